use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::*;

type UserTest = TestFramework<User>;

fn registered() -> UserEvent {
    UserEvent::UserRegistered {
        openid: "o-1".into(),
        nickname: "Mei".into(),
        registered_at: Utc
            .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
            .single()
            .expect("time"),
    }
}

#[test]
fn a_first_login_registers_the_user() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::RegisterUser {
            openid: "o-1".into(),
            nickname: "Mei".into(),
            registered_at: Utc
                .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
                .single()
                .expect("time"),
        })
        .then_expect_events(vec![registered()]);
}

#[test]
fn a_user_registers_once() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::RegisterUser {
            openid: "o-1".into(),
            nickname: "Mei".into(),
            registered_at: Utc::now(),
        })
        .then_expect_error(UserError::AlreadyRegistered);
}

#[test]
fn a_profile_change_keeps_what_it_does_not_name() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::UpdateProfile(ProfileChanges {
            phone: Some("+8613800000000".into()),
            ..Default::default()
        }))
        .then_expect_events(vec![UserEvent::ProfileUpdated {
            nickname: "Mei".into(),
            avatar_url: String::new(),
            phone: "+8613800000000".into(),
        }]);
}

#[test]
fn an_invalid_profile_names_every_wrong_field() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::UpdateProfile(ProfileChanges {
            nickname: Some(" ".into()),
            avatar_url: Some("http://insecure".into()),
            phone: Some("12ab".into()),
        }))
        .then_expect_error(UserError::Invalid(vec![
            FieldError::new("nickname", "must not be empty"),
            FieldError::new(
                "avatar_url",
                "must be an https:// URL of at most 1024 characters, or empty",
            ),
            FieldError::new(
                "phone",
                "must be 5 to 20 digits, optionally after +, or empty",
            ),
        ]));
}

#[test]
fn a_first_login_keeps_64_characters_of_a_long_name() {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("time");
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::RegisterUser {
            openid: "o-1".into(),
            nickname: "茶".repeat(70),
            registered_at: at,
        })
        .then_expect_events(vec![UserEvent::UserRegistered {
            openid: "o-1".into(),
            nickname: "茶".repeat(64),
            registered_at: at,
        }]);
}

#[test]
fn a_first_login_with_control_characters_in_the_openid_or_name_is_refused() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::RegisterUser {
            openid: "dev:a\u{0}".into(),
            nickname: "a\u{1B}[31m".into(),
            registered_at: Utc::now(),
        })
        .then_expect_error(UserError::Invalid(vec![
            FieldError::new(
                "openid",
                "must not contain control characters (U+0000 at character 6)",
            ),
            FieldError::new(
                "nickname",
                "must not contain control characters (U+001B at character 2)",
            ),
        ]));
}

#[test]
fn a_profile_with_control_characters_names_every_such_field() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::UpdateProfile(ProfileChanges {
            nickname: Some("Mei\u{0}".into()),
            avatar_url: Some("https://img.example/a\u{7F}.png".into()),
            phone: Some("+86\t138".into()),
        }))
        .then_expect_error(UserError::Invalid(vec![
            FieldError::new(
                "nickname",
                "must not contain control characters (U+0000 at character 4)",
            ),
            FieldError::new(
                "avatar_url",
                "must not contain control characters (U+007F at character 22)",
            ),
            FieldError::new(
                "phone",
                "must not contain line breaks or tabs (U+0009 at character 4)",
            ),
        ]));
}

#[test]
fn a_nickname_may_not_be_a_second_line() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::UpdateProfile(ProfileChanges {
            nickname: Some("Mei\nadmin".into()),
            ..Default::default()
        }))
        .then_expect_error(UserError::Invalid(vec![FieldError::new(
            "nickname",
            "must not contain line breaks or tabs (U+000A at character 4)",
        )]));
}

#[test]
fn a_profile_change_that_changes_nothing_records_nothing() {
    UserTest::with(())
        .given(vec![
            registered(),
            UserEvent::ProfileUpdated {
                nickname: "Mei".into(),
                avatar_url: "https://img.example/mei.png".into(),
                phone: "+8613800000000".into(),
            },
        ])
        .when(UserCommand::UpdateProfile(ProfileChanges {
            nickname: Some("Mei".into()),
            avatar_url: Some("https://img.example/mei.png".into()),
            phone: None,
        }))
        .then_expect_events(vec![]);
}

#[test]
fn an_empty_profile_change_records_nothing() {
    UserTest::with(())
        .given(vec![registered()])
        .when(UserCommand::UpdateProfile(ProfileChanges::default()))
        .then_expect_events(vec![]);
}

#[test]
fn a_profile_change_of_a_user_who_does_not_exist_is_refused_even_when_empty() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::UpdateProfile(ProfileChanges::default()))
        .then_expect_error(UserError::NotFound);
}

fn verified(phone: &str) -> UserEvent {
    UserEvent::PhoneVerified {
        phone: phone.into(),
        verified_at: Utc
            .with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
            .single()
            .expect("time"),
    }
}

fn verify(phone: &str) -> UserCommand {
    UserCommand::VerifyPhone {
        phone: phone.into(),
        verified_at: Utc
            .with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
            .single()
            .expect("time"),
    }
}

#[test]
fn a_phone_wechat_verified_is_recorded_once() {
    UserTest::with(())
        .given(vec![registered()])
        .when(verify("13800138000"))
        .then_expect_events(vec![verified("13800138000")]);
    UserTest::with(())
        .given(vec![registered(), verified("13800138000")])
        .when(verify("13800138000"))
        .then_expect_events(vec![]);
}

#[test]
fn a_typed_phone_replacing_the_verified_one_is_not_verified() {
    let mut user = User::default();
    for event in [
        registered(),
        verified("13800138000"),
        UserEvent::ProfileUpdated {
            nickname: "Mei".into(),
            avatar_url: String::new(),
            phone: "13900000000".into(),
        },
    ] {
        user.apply(event);
    }
    assert_eq!(
        (user.phone.as_str(), user.phone_verified),
        ("13900000000", false)
    );
    UserTest::with(())
        .given(vec![registered()])
        .when(verify("not a phone"))
        .then_expect_error(UserError::Invalid(vec![FieldError::new(
            "phone",
            "must be 5 to 20 digits, optionally after +, or empty",
        )]));
}
