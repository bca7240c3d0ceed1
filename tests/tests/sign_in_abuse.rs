//! Sign-in abuse: the gateway's rate limit by client address and by user name, the growing wait
//! after wrong passwords in a row, and the password rules (NIST SP 800-63B).

use partnerhub_gateway::sign_in_limit::{Rate, SignInLimits};
use partnerhub_proto::gateway::auth_service_client::AuthServiceClient;
use partnerhub_proto::gateway::{ChangePasswordRequest, SignInRequest};
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tests::{NEW_PASSWORD, TestSystem, bad_fields, metadata, reason};
use std::net::SocketAddr;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A channel to `gateway` whose connections come from `source` (another loopback address).
async fn from(source: [u8; 4], gateway: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{gateway}"))
        .expect("uri")
        .local_address(Some(source.into()))
        .connect()
        .await
        .expect("connect")
}

async fn sign_in(channel: &Channel, user_name: &str, password: &str) -> Result<(), Status> {
    AuthServiceClient::new(channel.clone())
        .sign_in(SignInRequest {
            user_name: user_name.into(),
            password: password.into(),
            second_factor_code: String::new(),
        })
        .await
        .map(|_| ())
}

fn retry_delay(status: &Status) -> Duration {
    status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo")
}

/// Refused by the rate limit for `by`, with a RetryInfo.
fn assert_rate_limited(result: Result<(), Status>, by: &str) {
    let status = result.expect_err("rate limited");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "SIGN_IN_RATE_LIMITED");
    assert_eq!(metadata(&status, "limitedBy"), by);
    let retry = retry_delay(&status);
    assert!(
        (Duration::from_secs(3500)..=Duration::from_secs(3600)).contains(&retry),
        "{retry:?}"
    );
}

/// Not rate limited: the credentials were checked (and, for these users, found wrong).
fn assert_checked(result: Result<(), Status>) {
    let status = result.expect_err("no such user");
    assert_eq!(reason(&status), "INVALID_CREDENTIALS", "{status:?}");
}

#[tokio::test]
async fn service_account_sign_in_is_rate_limited_per_client_id_too() {
    use partnerhub_proto::gateway::SignInServiceAccountRequest;
    let sys = TestSystem::start().await;
    let hour = Duration::from_secs(3600);
    let gateway = sys
        .gateway_with_sign_in_limits(SignInLimits {
            per_address: Rate {
                burst: 3,
                every: hour,
            },
            per_user: Rate {
                burst: 2,
                every: hour,
            },
        })
        .await;
    let sign_in = |client_id: &str| {
        let mut auth = AuthServiceClient::new(gateway.channel.clone());
        let request = SignInServiceAccountRequest {
            client_id: client_id.into(),
            client_secret: "phsa_not-a-secret-of-it".into(),
        };
        async move { auth.sign_in_service_account(request).await.map(drop) }
    };
    let guessed = uuid::Uuid::new_v4().to_string();
    // Two guesses at one account's secret, then it waits, by client id.
    assert_checked(sign_in(&guessed).await);
    assert_checked(sign_in(&guessed).await);
    assert_rate_limited(sign_in(&guessed).await, "client id");
    // The address has used its three tries (the refused one too): another account waits too.
    assert_rate_limited(
        sign_in(&uuid::Uuid::new_v4().to_string()).await,
        "client address",
    );
    sys.stop().await;
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_client_address_and_per_user_name() {
    let sys = TestSystem::start().await;
    let hour = Duration::from_secs(3600);
    let gateway = sys
        .gateway_with_sign_in_limits(SignInLimits {
            per_address: Rate {
                burst: 3,
                every: hour,
            },
            per_user: Rate {
                burst: 2,
                every: hour,
            },
        })
        .await;
    let addr = gateway.channel.clone();
    // The same gateway, reached from another loopback address.
    let other = from([127, 0, 0, 2], gateway.listen).await;

    // One address: three tries, whatever the user names, then it waits.
    for name in ["ann@a.example", "bo@a.example", "cecilia@a.example"] {
        assert_checked(sign_in(&addr, name, "Some-Wrong-Guess-1").await);
    }
    assert_rate_limited(
        sign_in(&addr, "dan@a.example", "Some-Wrong-Guess-1").await,
        "client address",
    );
    // Another address is not held back by it.
    assert_checked(sign_in(&other, "dan@a.example", "Some-Wrong-Guess-1").await);
    // One user name: two tries, whatever the address (bo was tried from the first one).
    assert_checked(sign_in(&other, "BO@a.example", "Some-Wrong-Guess-2").await);
    assert_rate_limited(
        sign_in(&other, "bo@a.example", "Some-Wrong-Guess-3").await,
        "user name",
    );
    // Another user name is not held back by it (from a third address: the second has used its
    // three tries, the refused one too).
    let third = from([127, 0, 0, 3], gateway.listen).await;
    assert_checked(sign_in(&third, "eva@a.example", "Some-Wrong-Guess-1").await);
    assert_rate_limited(
        sign_in(&other, "eva@a.example", "Some-Wrong-Guess-1").await,
        "client address",
    );
    sys.stop().await;
}

#[tokio::test]
async fn wrong_passwords_in_a_row_make_sign_in_wait_longer_each_time_and_the_right_one_works_after()
{
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("vanta", "7300002", &[PartnerType::DirectProvider])
        .await;
    let (nils, _) = sys
        .user(&admin, &partner.id, "nils", &[Role::SalesAgent])
        .await;
    let name = nils.user_name;
    for attempt in 1..=4 {
        let status = sys
            .sign_in(&name, "Wrong-Guess-Number-1")
            .await
            .expect_err("wrong");
        assert_eq!(reason(&status), "INVALID_CREDENTIALS", "attempt {attempt}");
    }
    // The fifth makes sign-in wait two seconds…
    let status = sys
        .sign_in(&name, "Wrong-Guess-Number-1")
        .await
        .expect_err("fifth");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), "SIGN_IN_LOCKED");
    let first_wait = retry_delay(&status);
    assert_eq!(first_wait, Duration::from_secs(2));
    // …during which even the right password waits.
    let status = sys.sign_in(&name, NEW_PASSWORD).await.expect_err("waiting");
    assert_eq!(reason(&status), "SIGN_IN_LOCKED");
    // After the wait (as RetryInfo says), one more wrong password doubles it.
    tokio::time::sleep(first_wait).await;
    let status = sys
        .sign_in(&name, "Wrong-Guess-Number-2")
        .await
        .expect_err("sixth");
    assert_eq!(reason(&status), "SIGN_IN_LOCKED");
    let second_wait = retry_delay(&status);
    assert_eq!(second_wait, Duration::from_secs(4));
    // No lock to be lifted by anyone: after the wait the right password works.
    tokio::time::sleep(second_wait).await;
    let signed_in = sys
        .sign_in(&name, NEW_PASSWORD)
        .await
        .expect("after the wait");
    assert!(!signed_in.password_change_required);
    sys.stop().await;
}

#[tokio::test]
async fn a_new_password_must_be_long_and_not_common_nor_the_user_name() {
    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("lyktan", "7300003", &[PartnerType::DirectProvider])
        .await;
    let first = sys
        .sign_in(&enrolled.admin_user_name, &enrolled.temporary_password)
        .await
        .expect("sign in");
    let change = |new_password: &str| {
        let mut auth = sys.auth(&first.access_token);
        let request = ChangePasswordRequest {
            current_password: enrolled.temporary_password.clone(),
            new_password: new_password.into(),
        };
        async move { auth.change_password(request).await }
    };
    for weak in [
        "Password1",
        "Password123456789",
        "P@ssw0rd-2024!!!",
        "lyktan-lyktan-2024",
        "my partnerhub password",
        "1234567890123456",
    ] {
        let status = change(weak).await.expect_err(weak);
        assert_eq!(status.code(), Code::InvalidArgument, "{weak}");
        assert_eq!(bad_fields(&status), ["new_password"], "{weak}");
    }
    // No kinds of characters are required: a passphrase will do.
    change("lantern light over the old harbour")
        .await
        .expect("a long passphrase");
    sys.stop().await;
}
