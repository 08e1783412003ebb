//! `ordo soak`: a shop's ordinary day, over real HTTP against a running server, for as
//! long as asked, printing a line a minute: does ordo slow down or grow as history grows?
//!
//! Each shopper (dev login) runs journeys: an order of 1 to 3 lines over the catalog; a
//! third are paid (prepay, then the dev simulator's signed notice), a third cancelled, the
//! rest left to the payment timeout; each journey ends with the shopper's order list.
//! Every answer is checked; a wrong one is counted and shown. It prints figures and
//! asserts nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use rand::seq::IndexedRandom;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::percentile_ms;
use crate::cli::SoakArgs;

/// What happened in one minute.
#[derive(Debug, Default)]
struct Minute {
    journeys: u64,
    latencies: Vec<Duration>,
    /// Answers that were not what the journey expected: `(what, status)`.
    wrong: Vec<(String, u16)>,
}

type Minutes = Arc<Mutex<Vec<Minute>>>;

pub async fn run(args: &SoakArgs) -> anyhow::Result<()> {
    let client = crate::tls::http_client()
        .timeout(Duration::from_secs(30))
        .build()?;
    let products = create_products(&client, args).await?;
    println!(
        "soak: {} shoppers, {} products, {} min against {}",
        args.shoppers, args.products, args.minutes, args.url
    );
    println!(
        "{:>6} {:>10} {:>10} {:>9} {:>9} {:>7} {:>9}",
        "minute", "journeys", "requests", "p50 ms", "p99 ms", "wrong", "RSS MiB"
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.minutes * 60);
    let minutes: Minutes = Arc::new(Mutex::new(Vec::new()));
    let products = Arc::new(products);
    let mut shoppers = JoinSet::new();
    for n in 0..args.shoppers {
        let (client, url, products, minutes) = (
            client.clone(),
            args.url.clone(),
            products.clone(),
            minutes.clone(),
        );
        shoppers.spawn(async move {
            let shopper = Shopper::log_in(client, url, n).await?;
            shopper
                .shop_until(deadline, started, &products, &minutes)
                .await;
            Ok::<_, anyhow::Error>(())
        });
    }
    let mut reported = 0;
    let mut first_rss = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = started.elapsed().as_secs() / 60;
        while reported < done {
            let rss = args.server_pid.and_then(rss_mib);
            first_rss = first_rss.or(rss);
            report(&minutes, reported as usize, rss);
            reported += 1;
        }
    }
    while let Some(result) = shoppers.join_next().await {
        result??;
    }
    let last_rss = args.server_pid.and_then(rss_mib);
    while reported < args.minutes {
        report(&minutes, reported as usize, last_rss);
        reported += 1;
    }
    summarize(&minutes, first_rss, last_rss);
    Ok(())
}

/// The catalog the shoppers buy from, created through the admin API.
async fn create_products(client: &Client, args: &SoakArgs) -> anyhow::Result<Vec<String>> {
    let mut products = Vec::with_capacity(args.products);
    for n in 0..args.products {
        let answer: Value = client
            .post(format!("{}/api/v1/admin/products", args.url))
            .bearer_auth(&args.admin_token)
            .json(
                &json!({"name": format!("soak product {n}"), "category": "soak",
                          "price_cents": 100 + n, "initial_stock": 10_000_000}),
            )
            .send()
            .await?
            .error_for_status()
            .context("create a product (is --admin-token an operator token?)")?
            .json()
            .await?;
        products.push(
            answer["data"]["id"]
                .as_str()
                .context("a product id")?
                .to_owned(),
        );
    }
    Ok(products)
}

struct Shopper {
    client: Client,
    url: String,
    token: String,
}

impl Shopper {
    async fn log_in(client: Client, url: String, n: usize) -> anyhow::Result<Self> {
        let answer: Value = client
            .post(format!("{url}/api/v1/auth/wechat-login"))
            .json(&json!({"code": format!("dev:soak-{n}")}))
            .send()
            .await?
            .error_for_status()
            .context("dev login (is the server in dev mode?)")?
            .json()
            .await?;
        let token = answer["data"]["access_token"]
            .as_str()
            .context("an access token")?
            .to_owned();
        Ok(Self { client, url, token })
    }

    async fn shop_until(
        &self,
        deadline: Instant,
        started: Instant,
        products: &[String],
        minutes: &Minutes,
    ) {
        let mut journey = 0u64;
        while Instant::now() < deadline {
            journey += 1;
            let minute = (started.elapsed().as_secs() / 60) as usize;
            let mut seen = Minute::default();
            self.journey(journey, products, &mut seen).await;
            seen.journeys = 1;
            let mut minutes = minutes.lock().unwrap_or_else(|p| p.into_inner());
            if minutes.len() <= minute {
                minutes.resize_with(minute + 1, Minute::default);
            }
            let into = &mut minutes[minute];
            into.journeys += seen.journeys;
            into.latencies.extend(seen.latencies);
            into.wrong.extend(seen.wrong);
        }
    }

    /// One journey: order, then pay, cancel or leave it, then the order list.
    async fn journey(&self, journey: u64, products: &[String], seen: &mut Minute) {
        let lines: Vec<Value> = {
            let mut rng = rand::rng();
            let count = rng.random_range(1..=3);
            products
                .choose_multiple(&mut rng, count)
                .map(|product| json!({"product_id": product, "quantity": rng.random_range(1..=2)}))
                .collect()
        };
        let body = json!({"lines": lines, "address": {"name": "Soak", "phone": "13800000000",
            "province": "Zhejiang", "city": "Hangzhou", "district": "Xihu", "detail": "1 Lake Road"}});
        let placed = self
            .call(
                Method::POST,
                "/api/v1/orders",
                Some(body),
                StatusCode::CREATED,
                seen,
            )
            .await;
        let Some(order) =
            placed.and_then(|answer| answer["data"]["id"].as_str().map(str::to_owned))
        else {
            return;
        };
        match journey % 3 {
            0 => {
                let pay = format!("/api/v1/orders/{order}/pay");
                let simulate = format!("/api/v1/dev/orders/{order}/simulate-payment");
                self.call(Method::POST, &pay, None, StatusCode::OK, seen)
                    .await;
                self.call(Method::POST, &simulate, None, StatusCode::OK, seen)
                    .await;
            }
            1 => {
                let cancel = format!("/api/v1/orders/{order}/cancel");
                self.call(Method::POST, &cancel, None, StatusCode::OK, seen)
                    .await;
            }
            // Left for the payment timeout.
            _ => {}
        }
        self.call(Method::GET, "/api/v1/orders", None, StatusCode::OK, seen)
            .await;
    }

    /// One request; its latency recorded, and the answer when it is the one expected.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
        seen: &mut Minute,
    ) -> Option<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let begun = Instant::now();
        let answer = request.send().await;
        seen.latencies.push(begun.elapsed());
        let what = path
            .split('/')
            .filter(|part| part.len() != 36)
            .collect::<Vec<_>>()
            .join("/");
        match answer {
            Ok(response) if response.status() == expected => response.json().await.ok(),
            Ok(response) => {
                seen.wrong.push((what, response.status().as_u16()));
                None
            }
            Err(_) => {
                seen.wrong.push((what, 0));
                None
            }
        }
    }
}

fn report(minutes: &Minutes, minute: usize, rss: Option<u64>) {
    let minutes = minutes.lock().unwrap_or_else(|p| p.into_inner());
    let Some(seen) = minutes.get(minute) else {
        return;
    };
    println!(
        "{:>6} {:>10} {:>10} {:>9.1} {:>9.1} {:>7} {:>9}",
        minute + 1,
        seen.journeys,
        seen.latencies.len(),
        percentile_ms(&seen.latencies, 0.50),
        percentile_ms(&seen.latencies, 0.99),
        seen.wrong.len(),
        rss.map_or_else(|| "-".to_owned(), |rss| rss.to_string())
    );
    for (what, status) in seen.wrong.iter().take(3) {
        println!("         wrong answer: {what} → {status}");
    }
}

fn summarize(minutes: &Minutes, first_rss: Option<u64>, last_rss: Option<u64>) {
    let minutes = minutes.lock().unwrap_or_else(|p| p.into_inner());
    let (Some(first), Some(last)) = (minutes.first(), minutes.last()) else {
        return;
    };
    let wrong: usize = minutes.iter().map(|m| m.wrong.len()).sum();
    println!(
        "first → last minute: journeys {} → {} ({:.0} %), p50 {:.1} → {:.1} ms, p99 {:.1} → {:.1} ms, RSS {} → {} MiB, wrong answers {wrong}",
        first.journeys,
        last.journeys,
        last.journeys as f64 * 100.0 / first.journeys.max(1) as f64,
        percentile_ms(&first.latencies, 0.50),
        percentile_ms(&last.latencies, 0.50),
        percentile_ms(&first.latencies, 0.99),
        percentile_ms(&last.latencies, 0.99),
        first_rss.map_or_else(|| "-".to_owned(), |rss| rss.to_string()),
        last_rss.map_or_else(|| "-".to_owned(), |rss| rss.to_string()),
    );
}

/// The resident memory of process `pid`, in MiB.
fn rss_mib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
}
