//! Sending email: through Cloudflare's `send_email` binding (`EMAIL`, sender `EMAIL_FROM`)
//! when the worker has one, else, for a local `http://` issuer, into the D1 outbox the tests
//! read ([`crate::oauth::people::recovery::mailer`] decides which).

use worker::{D1Database, Env, SendEmailBuilder, console_error};

use super::store;
use crate::oauth::effects::{Write, Writes};
use crate::oauth::error::OAuthError;
use crate::oauth::people::recovery::{self, Mailer, Message};

/// The binding's name.
pub const BINDING: &str = "EMAIL";

/// How this worker sends.
pub fn mailer(env: &Env, issuer: &str) -> Mailer {
    recovery::mailer(env.send_email(BINDING).is_ok(), issuer)
}

/// Sends `msg`; `Ok(false)` when this worker cannot send email at all.
pub async fn send(
    env: &Env,
    db: &D1Database,
    issuer: &str,
    msg: Message,
) -> Result<bool, OAuthError> {
    match mailer(env, issuer) {
        Mailer::None => Ok(false),
        Mailer::Outbox => {
            store::apply(db, &Writes::none().with(Write::Outbox(msg))).await?;
            Ok(true)
        }
        Mailer::Binding => {
            let from = env
                .var("EMAIL_FROM")
                .map(|v| v.to_string())
                .map_err(|_| OAuthError::server_error("EMAIL_FROM is not set"))?;
            let binding = env
                .send_email(BINDING)
                .map_err(|_| OAuthError::server_error("the email binding is missing"))?;
            let email = SendEmailBuilder::builder(&from, &msg.to, &msg.subject)
                .text(&msg.body)
                .build();
            match binding.send_with_builder(&email).await {
                Ok(_) => Ok(true),
                Err(_) => {
                    // The message holds a link: never logged.
                    console_error!("email: sending \"{}\" failed", msg.subject);
                    Err(OAuthError::new(
                        crate::oauth::error::ErrorCode::TemporarilyUnavailable,
                        "email could not be sent",
                    ))
                }
            }
        }
    }
}
