//! Redirects to addresses a person registered (RFC 9700 section 4.11.2, open redirectors).
//!
//! Anyone with an account can register an app on `/create_client` (or through RFC 7591) with
//! any https redirect URI. An authorization error or an RP-initiated logout would then send a
//! browser there without the person doing anything: this server would be an open redirector
//! with its own trusted name in the link. So a redirect that is not the answer to something
//! the person did (an authorization error before sign-in, a logout) goes, for a self- or
//! dynamically registered app, through a page that names the destination host and asks the
//! person to follow the link. Apps an administrator registered are trusted and are redirected
//! to at once, as are the code and the person's own "deny" on the consent page (they saw the
//! app's name and chose).

use crate::oauth::clients::client::{ClientRecord, origin_of};
use crate::oauth::html::{escape, page};

/// Where a browser goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leave {
    /// Redirect at once (`303`).
    Redirect(String),
    /// Show this page, which links to the destination.
    Page(String),
}

/// Sends the browser to `location`, a redirect URI of `client`: directly for a trusted client,
/// through the interstitial page otherwise. `what` says what happened ("The sign-in request
/// was refused: ...").
pub fn leave(location: String, client: &ClientRecord, title: &str, what: &str) -> Leave {
    if !client.is_self_registered() {
        return Leave::Redirect(location);
    }
    Leave::Page(interstitial(&location, &client.name, title, what))
}

/// The page: what happened, who registered the destination, and a link to it.
pub fn interstitial(location: &str, app_name: &str, title: &str, what: &str) -> String {
    let origin = origin_of(location).unwrap_or(location);
    page(
        title,
        &format!(
            "<h1>{}</h1><p id=\"what\">{}</p><p id=\"leaving\">You are leaving this server for \
<strong>{}</strong>, an address the app <strong>{}</strong> registered. It was registered by one \
of this server's users, not by its administrator: continue only if you trust it.</p>\
<p><a id=\"continue\" href=\"{}\">Continue to {}</a></p>",
            escape(title),
            escape(what),
            escape(origin),
            escape(app_name),
            escape(location),
            escape(origin),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::clients::client::GrantType;
    use crate::oauth::flows::grants::tests::client;

    #[test]
    fn self_registered_apps_get_the_page_admin_apps_the_redirect() {
        let mut c = client(&[GrantType::AuthorizationCode], "openid", true);
        let to = "https://app.example/cb?error=x&state=<s>".to_string();
        assert_eq!(leave(to.clone(), &c, "t", "w"), Leave::Redirect(to.clone()));
        c.owner_id = Some("u_1".into());
        let Leave::Page(html) = leave(to.clone(), &c, "Refused", "why") else {
            panic!("a self-registered app's redirect must go through the page");
        };
        assert!(html.contains("href=\"https://app.example/cb?error=x&amp;state=&lt;s&gt;\""));
        assert!(html.contains("<strong>https://app.example</strong>"));
        assert!(!html.contains("<s>"));
        c.owner_id = None;
        c.registration_key = Some("k".into());
        assert!(matches!(leave(to, &c, "t", "w"), Leave::Page(_)));
    }
}
