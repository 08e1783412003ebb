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
            FieldError::new("nickname", "must be 1 to 64 characters"),
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
