//! Subscribe messages (`cgi-bin/message/subscribe/send`): the mini program's way to tell a
//! shopper their order was paid, shipped or refunded, once per acceptance the shopper
//! gave in `wx.requestSubscribeMessage`. Each shop picks its templates on WeChat's
//! platform; each template names its fields (`character_string1`, `amount2`, …), so which
//! order fact goes in which field is a setting, with defaults for WeChat's common
//! order templates.

use crate::beijing::BEIJING;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::platform::{Platform, PlatformError};

/// What an order tells the shopper about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occasion {
    Paid,
    Shipped,
    Refunded,
}

impl Occasion {
    pub const ALL: [Self; 3] = [Self::Paid, Self::Shipped, Self::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|occasion| occasion.as_str() == text)
    }

    /// The fields of WeChat's common template for this occasion.
    pub fn default_fields(self) -> TemplateFields {
        let text = match self {
            Self::Paid => "character_string1=order_no,amount2=amount,thing3=product,time4=time",
            Self::Shipped => {
                "character_string1=order_no,thing2=product,thing3=carrier,character_string4=tracking_no,time5=time"
            }
            Self::Refunded => "character_string1=order_no,amount2=amount,thing3=product,time4=time",
        };
        text.parse().unwrap_or_default()
    }
}

/// An order fact a template field shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The order's number as the shopper sees it (its id without hyphens).
    OrderNo,
    /// The order's total, or the refunded amount (`¥48.00`).
    Amount,
    /// The first product's name, and how many more (`Oolong 等3件`).
    Product,
    Carrier,
    TrackingNo,
    /// When it happened, Beijing time (`2026-12-07 10:00`).
    Time,
    /// `已支付`, `已发货`, `已退款`.
    Status,
}

impl Fact {
    const NAMES: [(&'static str, Self); 7] = [
        ("order_no", Self::OrderNo),
        ("amount", Self::Amount),
        ("product", Self::Product),
        ("carrier", Self::Carrier),
        ("tracking_no", Self::TrackingNo),
        ("time", Self::Time),
        ("status", Self::Status),
    ];
}

/// A template's fields: which order fact goes in which of its keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFields(pub Vec<(String, Fact)>);

impl FromStr for TemplateFields {
    type Err = String;

    /// `key=fact,…`, e.g. `character_string1=order_no,amount2=amount`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut fields = Vec::new();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (key, fact) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected key=fact"))?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{key:?}: not a template key (e.g. thing3)"));
            }
            let fact = Fact::NAMES
                .iter()
                .find(|(name, _)| *name == fact.trim())
                .map(|(_, fact)| *fact)
                .ok_or_else(|| {
                    format!(
                        "{fact:?}: one of order_no, amount, product, carrier, tracking_no, time, status"
                    )
                })?;
            fields.push((key.to_owned(), fact));
        }
        if fields.is_empty() {
            return Err("no field".to_owned());
        }
        Ok(Self(fields))
    }
}

impl fmt::Display for TemplateFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self
            .0
            .iter()
            .map(|(key, fact)| {
                let name = Fact::NAMES
                    .iter()
                    .find(|(_, f)| f == fact)
                    .map_or("?", |(n, _)| n);
                format!("{key}={name}")
            })
            .collect();
        f.write_str(&text.join(","))
    }
}

/// A template the shop configured for an occasion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: String,
    pub fields: TemplateFields,
}

/// The shop's subscribe message settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSettings {
    pub paid: Option<Template>,
    pub shipped: Option<Template>,
    pub refunded: Option<Template>,
    /// The page a message opens, `{order_id}` replaced.
    pub page: String,
    /// `formal`, `trial` or `developer`: which version of the mini program opens.
    pub miniprogram_state: String,
}

/// The page a message opens by default.
pub const DEFAULT_PAGE: &str = "pages/order/detail?id={order_id}";

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            paid: None,
            shipped: None,
            refunded: None,
            page: DEFAULT_PAGE.to_owned(),
            miniprogram_state: "formal".to_owned(),
        }
    }
}

impl MessageSettings {
    pub fn template(&self, occasion: Occasion) -> Option<&Template> {
        match occasion {
            Occasion::Paid => self.paid.as_ref(),
            Occasion::Shipped => self.shipped.as_ref(),
            Occasion::Refunded => self.refunded.as_ref(),
        }
    }

    /// Whether `template_id` is one of the shop's templates.
    pub fn knows(&self, template_id: &str) -> bool {
        Occasion::ALL
            .into_iter()
            .any(|occasion| self.template(occasion).is_some_and(|t| t.id == template_id))
    }
}

/// The facts of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub order_no: String,
    pub amount_cents: i64,
    pub product: String,
    pub carrier: String,
    pub tracking_no: String,
    pub at: DateTime<Utc>,
    pub occasion: Occasion,
}

/// A value cut to WeChat's limit for its key's kind (`thing` 20 characters,
/// `character_string` 32, `phrase` 5, …).
fn fit(key: &str, value: String) -> String {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let limit = match kind {
        "thing" => 20,
        "phrase" => 5,
        "name" => 10,
        "symbol" => 5,
        "car_number" => 8,
        "phone_number" => 17,
        _ => 32,
    };
    if value.chars().count() <= limit {
        return value;
    }
    let mut cut: String = value.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

impl OrderFacts {
    fn value(&self, fact: Fact) -> String {
        match fact {
            Fact::OrderNo => self.order_no.clone(),
            Fact::Amount => format!(
                "¥{}.{:02}",
                self.amount_cents / 100,
                self.amount_cents % 100
            ),
            Fact::Product => self.product.clone(),
            Fact::Carrier => self.carrier.clone(),
            Fact::TrackingNo => self.tracking_no.clone(),
            Fact::Time => self
                .at
                .with_timezone(&BEIJING)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            Fact::Status => match self.occasion {
                Occasion::Paid => "已支付",
                Occasion::Shipped => "已发货",
                Occasion::Refunded => "已退款",
            }
            .to_owned(),
        }
    }

    /// The message's `data` for `fields`.
    pub fn data(&self, fields: &TemplateFields) -> Value {
        let mut data = Map::new();
        for (key, fact) in &fields.0 {
            data.insert(key.clone(), json!({ "value": fit(key, self.value(*fact)) }));
        }
        Value::Object(data)
    }
}

/// The product line of a message: the first product, and how many items in all.
pub fn product_line<'a>(mut names: impl Iterator<Item = (&'a str, i64)>) -> String {
    let Some((first, quantity)) = names.next() else {
        return String::new();
    };
    let rest: i64 = names.map(|(_, quantity)| quantity).sum();
    if rest == 0 {
        first.to_owned()
    } else {
        format!("{first} 等{}件", quantity + rest)
    }
}

impl Platform {
    /// Sends one subscribe message.
    pub async fn send_message(
        &self,
        openid: &str,
        template: &Template,
        page: &str,
        miniprogram_state: &str,
        facts: &OrderFacts,
    ) -> Result<(), PlatformError> {
        let body = json!({
            "touser": openid,
            "template_id": template.id,
            "page": page,
            "data": facts.data(&template.fields),
            "miniprogram_state": miniprogram_state,
            "lang": "zh_CN",
        });
        self.call::<Value>("/cgi-bin/message/subscribe/send", &body)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_key_fact_pairs_and_refused_naming_the_mistake() {
        let fields: TemplateFields = "character_string1=order_no, amount2=amount"
            .parse()
            .expect("fields");
        assert_eq!(
            fields.0,
            [
                ("character_string1".to_owned(), Fact::OrderNo),
                ("amount2".to_owned(), Fact::Amount)
            ]
        );
        assert_eq!(
            fields.to_string(),
            "character_string1=order_no,amount2=amount"
        );
        assert!(
            "thing3=price"
                .parse::<TemplateFields>()
                .err()
                .unwrap_or_default()
                .contains("price")
        );
        assert!(
            "thing3"
                .parse::<TemplateFields>()
                .err()
                .unwrap_or_default()
                .contains("key=fact")
        );
        assert!(
            Occasion::ALL
                .iter()
                .all(|o| !o.default_fields().0.is_empty())
        );
    }

    #[test]
    fn a_messages_values_fit_wechats_limits() {
        let facts = OrderFacts {
            order_no: "0191b4a000007000800000000000010".to_owned(),
            amount_cents: 4_805,
            product: product_line(
                [
                    ("一二三四五六七八九十一二三四五六七八九十一", 1),
                    ("Cup", 2),
                ]
                .into_iter(),
            ),
            carrier: "中通快递".to_owned(),
            tracking_no: "ZT1".to_owned(),
            at: DateTime::parse_from_rfc3339("2026-12-07T02:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
            occasion: Occasion::Paid,
        };
        let data = facts.data(&Occasion::Paid.default_fields());
        assert_eq!(data["amount2"]["value"], "¥48.05");
        assert_eq!(data["time4"]["value"], "2026-12-07 10:00");
        let product = data["thing3"]["value"].as_str().expect("product");
        assert_eq!(product.chars().count(), 20);
        assert!(product.ends_with('…'));
    }
}
