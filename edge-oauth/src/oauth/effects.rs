//! What a decision asks the worker to write. A decision returns one [`Writes`]: an optional
//! [`Claim`] (the single-use step that must succeed) and the rows that go with it. The worker
//! turns them into D1 statements ([`super::sql`]) and runs them in one batch (one
//! transaction); rows guarded by a claim are written only when the claim succeeded. Every
//! write carries its own time: nothing is read back from rows to guess it.

use super::people::session::{Authn, NewSession};

/// An audit row: what happened to which token, for which client and user. Never a secret:
/// tokens appear only as their public ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: u64,
    /// What happened (see [`event`]).
    pub event: &'static str,
    /// The token's public id (JWT `jti`, or shared-token's TokenId of an opaque or TURN token).
    pub token_id: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// The user.
    pub user_id: Option<String>,
    /// The token family.
    pub family_id: Option<String>,
    /// A short, fixed reason (e.g. `refresh_reuse`).
    pub detail: Option<&'static str>,
    /// The person who made the change from the console (`None` elsewhere).
    pub actor: Option<String>,
}

/// Audit event names.
pub mod event {
    /// An access token (JWT) was issued.
    pub const ACCESS_ISSUED: &str = "access_token.issued";
    /// An ID token was issued.
    pub const ID_TOKEN_ISSUED: &str = "id_token.issued";
    /// A refresh token was issued.
    pub const REFRESH_ISSUED: &str = "refresh_token.issued";
    /// An RFC 7635 TURN token was issued at the token endpoint.
    pub const TURN_ISSUED: &str = "turn_token.issued";
    /// A TURN token was issued as a browser credential by `/turn/credentials`.
    pub const TURN_CREDENTIAL_ISSUED: &str = "turn_credential.issued";
    /// An authorization code was issued.
    pub const CODE_ISSUED: &str = "code.issued";
    /// A device authorization (RFC 8628) was started.
    pub const DEVICE_STARTED: &str = "device.started";
    /// A person approved or denied a device authorization (detail says which).
    pub const DEVICE_DECIDED: &str = "device.decided";
    /// A token was revoked (RFC 7009).
    pub const TOKEN_REVOKED: &str = "token.revoked";
    /// A whole token family was revoked (detail says why).
    pub const FAMILY_REVOKED: &str = "family.revoked";
    /// Every family of a client, a user, or a client and user was revoked (detail says why).
    pub const FAMILIES_REVOKED: &str = "families.revoked";
    /// A client was created.
    pub const CLIENT_CREATED: &str = "client.created";
    /// A client's registration was changed (RFC 7592).
    pub const CLIENT_UPDATED: &str = "client.updated";
    /// A client was deleted.
    pub const CLIENT_DELETED: &str = "client.deleted";
    /// A user was created.
    pub const USER_CREATED: &str = "user.created";
    /// A user's rights were set.
    pub const USER_RIGHTS_SET: &str = "user.rights_set";
    /// A user was deleted.
    pub const USER_DELETED: &str = "user.deleted";
    /// A user's password was rehashed at sign-in with more PBKDF2 iterations (detail: the new
    /// count).
    pub const PASSWORD_REHASHED: &str = "user.password_rehashed";
    /// A person signed in and a session began.
    pub const SESSION_STARTED: &str = "session.started";
    /// A person registered a passkey.
    pub const PASSKEY_ADDED: &str = "passkey.added";
    /// A person verified their email address.
    pub const EMAIL_VERIFIED: &str = "user.email_verified";
    /// A person set a new password with a reset link.
    pub const PASSWORD_RESET: &str = "user.password_reset";
    /// Sessions ended (detail says why: `logout`, `everywhere`).
    pub const SESSIONS_ENDED: &str = "session.ended";
    /// An initial access token for client registration was created.
    pub const INITIAL_TOKEN_CREATED: &str = "initial_access_token.created";
}

impl AuditEvent {
    /// An event with only a name and time.
    pub fn new(at: u64, event: &'static str) -> AuditEvent {
        AuditEvent {
            at,
            event,
            token_id: None,
            client_id: None,
            user_id: None,
            family_id: None,
            detail: None,
            actor: None,
        }
    }
}

/// A new token family: one authorization, the refresh tokens rotated from it and the access
/// tokens issued with them. Revoking it revokes all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFamily {
    /// Family id.
    pub id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: Option<String>,
    /// The scope of the authorization.
    pub scope: String,
    /// When the user signed in for it (OpenID Connect `auth_time`), if a user did.
    pub auth_time: Option<u64>,
    /// How they were authenticated (`sid`, `amr`, `acr` of its ID tokens).
    pub authn: Option<Authn>,
    /// Unix seconds.
    pub created_at: u64,
    /// The RFC 8707 resources it granted, space-separated (`None`: the edge's own).
    pub resource: Option<String>,
    /// The DPoP key its refresh tokens are bound to (RFC 9449 section 5), if any.
    pub dpop_jkt: Option<String>,
}

/// A new refresh token, stored by its lookup key (SHA-256), never in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefresh {
    /// hex SHA-256 of the token.
    pub key: String,
    /// Family.
    pub family_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: Option<String>,
    /// Scope it may be refreshed to (at most).
    pub scope: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub created_at: u64,
}

/// A new authorization code, stored by its lookup key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCode {
    /// hex SHA-256 of the code.
    pub key: String,
    /// Client.
    pub client_id: String,
    /// User who consented.
    pub user_id: String,
    /// The exact redirect URI of the request.
    pub redirect_uri: String,
    /// Scope consented to.
    pub scope: String,
    /// The S256 challenge.
    pub code_challenge: String,
    /// OpenID Connect `nonce` of the authorization request.
    pub nonce: Option<String>,
    /// When the user signed in (OpenID Connect `auth_time`).
    pub auth_time: u64,
    /// How they were authenticated (`sid`, `amr`, `acr`).
    pub authn: Option<Authn>,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// The RFC 8707 resources asked for, space-separated (`None`: none named).
    pub resource: Option<String>,
}

/// A new device authorization (RFC 8628), stored by the device code's lookup key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    /// hex SHA-256 of the device code.
    pub key: String,
    /// The user code, normalised (upper case, no dash).
    pub user_code: String,
    /// Client.
    pub client_id: String,
    /// Scope asked for.
    pub scope: String,
    /// Seconds between polls.
    pub interval: u32,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// The RFC 8707 resources asked for, space-separated (`None`: none named).
    pub resource: Option<String>,
}

/// A revoked individual token (access or TURN), kept until it would have expired anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The token's public id.
    pub token_id: String,
    /// `access` or `turn`.
    pub kind: &'static str,
    /// Unix seconds after which the row may be pruned.
    pub expires_at: u64,
    /// Unix seconds.
    pub revoked_at: u64,
}

/// A client row to insert or replace. `secret_hash` and `registration_key` are PBKDF2 records
/// and hex SHA-256 lookups, never secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientWrite {
    /// `client_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// PBKDF2 record; `None` for a public client.
    pub secret_hash: Option<String>,
    /// JSON array of redirect URIs.
    pub redirect_uris: String,
    /// JSON array of post-logout redirect URIs.
    pub post_logout_redirect_uris: String,
    /// Space-separated grant types.
    pub grant_types: String,
    /// Space-separated scope.
    pub scopes: String,
    /// Shorter access-token lifetime.
    pub access_token_ttl: Option<u32>,
    /// Shorter refresh-token lifetime.
    pub refresh_token_ttl: Option<u32>,
    /// `id_token_signed_response_alg`.
    pub id_token_alg: String,
    /// The user who registered it on `/create_client`, if one did.
    pub owner_id: Option<String>,
    /// Who registered it: `admin`, `self_service` or `dynamic`.
    pub registered_by: &'static str,
    /// hex SHA-256 of the RFC 7592 registration access token, for dynamic registrations.
    pub registration_key: Option<String>,
    /// OpenID Connect Back-Channel Logout: where logout tokens go.
    pub backchannel: Option<super::clients::client::Backchannel>,
    /// Unix seconds.
    pub created_at: u64,
    /// Space-separated RFC 8707 resources it may ask tokens for (`None`: none).
    pub resources: Option<String>,
}

/// A user row to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserWrite {
    /// User id.
    pub id: String,
    /// Sign-in name (unique).
    pub username: String,
    /// PBKDF2 record.
    pub password_hash: String,
    /// Display name.
    pub name: Option<String>,
    /// Email address (not verified by this server).
    pub email: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// Whose token families a revocation covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Every family of a client.
    Client(String),
    /// Every family of a user.
    User(String),
    /// The families of one user at one client (RP-initiated logout).
    ClientUser {
        /// Client.
        client_id: String,
        /// User.
        user_id: String,
    },
    /// Every family of every client a user registered on `/create_client`.
    ClientsOwnedBy(String),
}

/// The single-use step that must succeed, atomically, for the rest to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nothing to claim.
    None,
    /// Mark the code used (only if unused) and record the family it produced.
    Code {
        /// The code's lookup key.
        key: String,
        /// The family its tokens belong to.
        family_id: String,
        /// Unix seconds.
        now: u64,
    },
    /// Mark the refresh token used (only if unused, unexpired and its family alive) and
    /// record its successor.
    Refresh {
        /// The presented token's lookup key.
        old_key: String,
        /// The successor's lookup key.
        new_key: String,
        /// Unix seconds.
        now: u64,
    },
    /// Mark an approved device authorization redeemed (only if approved and unexpired) and
    /// record the family it produced.
    Device {
        /// The device code's lookup key.
        key: String,
        /// The family its tokens belong to.
        family_id: String,
        /// Unix seconds.
        now: u64,
    },
    /// Record a person's decision on a pending, unexpired device authorization.
    DeviceDecision {
        /// The device code's lookup key.
        key: String,
        /// This decision's random id: the guard of the rows that follow it.
        decision_id: String,
        /// The person.
        user_id: String,
        /// True to approve, false to deny.
        approve: bool,
        /// When they signed in.
        auth_time: u64,
        /// Unix seconds.
        now: u64,
    },
    /// Use an email link (only if unused, unexpired and for `purpose`), marked with this
    /// request's `nonce`.
    EmailToken {
        /// The link's key.
        key: String,
        /// `verify` or `reset`.
        purpose: &'static str,
        /// This request's tag.
        nonce: String,
        /// Unix seconds.
        now: u64,
    },
    /// Use a WebAuthn challenge: recorded as used unless it already was; the rest is written
    /// only if it was not.
    Challenge {
        /// hex SHA-256 of the challenge.
        key: String,
        /// When it expires (the row may go then).
        expires_at: u64,
    },
    /// Insert a client whose id must be free; the rest is written only if it was.
    InsertClient(ClientWrite),
    /// Insert a user whose username must be free.
    InsertUser(UserWrite),
    /// Replace a client's registration (RFC 7592 update); it must still exist.
    UpdateClient(ClientWrite),
    /// Delete a client, which must exist; `owner` limits it to one user's clients.
    DeleteClient {
        /// `client_id`.
        id: String,
        /// Only if this user registered it.
        owner: Option<String>,
    },
    /// Delete a user, who must exist.
    DeleteUser {
        /// User id.
        id: String,
    },
    /// Set a user's rights; the user must exist.
    SetRights {
        /// User id.
        user_id: String,
        /// Space-separated rights.
        rights: String,
    },
    /// A relay's heartbeat, upserted only while its relay id is this relay client's (the
    /// first heartbeat binds it): the claim fails when another client holds the id.
    Heartbeat {
        /// The heartbeat.
        beat: Box<super::control::rows::Heartbeat>,
        /// The relay client sending it.
        client_id: String,
        /// Unix seconds.
        now: u64,
    },
    /// Replace a confidential client's secret (the console's rotation); it must exist and
    /// have one.
    RotateSecret {
        /// `client_id`.
        id: String,
        /// The new PBKDF2 record.
        secret_hash: String,
    },
    /// Replace a client's redirect URIs (JSON array); it must exist.
    SetRedirectUris {
        /// `client_id`.
        id: String,
        /// JSON array.
        redirect_uris: String,
    },
    /// Replace a client's RFC 8707 resources (space-separated, `None` for none); it must
    /// exist.
    SetResources {
        /// `client_id`.
        id: String,
        /// As stored ([`super::tokens::resource::Resources::to_column`]).
        resources: Option<String>,
    },
    /// Disable (`Some(at)`) or enable (`None`) a person; they must exist.
    SetDisabled {
        /// User id.
        user_id: String,
        /// When disabled.
        at: Option<u64>,
    },
    /// Ask (`Some(at)`) or stop asking (`None`) that a relay get no new callers; the relay
    /// must be known.
    DrainRelay {
        /// The relay.
        relay_id: String,
        /// When asked.
        at: Option<u64>,
    },
    /// A usage batch's cursor moves from `read` (the value read; `None`: no row yet) to
    /// `through`, tagged with this request's `nonce`; it fails when another batch of the
    /// relay moved it meanwhile. The usage rows are written under it.
    UsageCursor {
        /// The relay.
        relay_id: String,
        /// The relay's epoch.
        epoch: String,
        /// The cursor read.
        read: Option<u64>,
        /// The cursor after the batch.
        through: u64,
        /// This request's tag.
        nonce: String,
        /// Unix seconds.
        now: u64,
    },
}

/// One row-level change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Create a family.
    Family(NewFamily),
    /// Store a refresh token.
    Refresh(NewRefresh),
    /// Store a code.
    Code(NewCode),
    /// Store a device authorization.
    Device(NewDevice),
    /// Record a device poll: when, and the interval from now on (raised by `slow_down`).
    DevicePolled {
        /// The device code's lookup key.
        key: String,
        /// Unix seconds.
        at: u64,
        /// Seconds between polls from now on.
        interval: u32,
    },
    /// Revoke one family.
    RevokeFamily {
        /// Family id.
        id: String,
        /// Why (`refresh_reuse`, `code_replay`, `revoked`, ...).
        reason: &'static str,
        /// Unix seconds.
        at: u64,
    },
    /// Revoke every family of an owner.
    RevokeFamiliesOf {
        /// Whose.
        owner: Owner,
        /// Why (`client_deleted`, `user_deleted`, `logout`, ...).
        reason: &'static str,
        /// Unix seconds.
        at: u64,
    },
    /// Revoke one token.
    RevokeToken(Revocation),
    /// Delete every client a user registered on `/create_client`.
    DeleteClientsOwnedBy(String),
    /// Store an initial access token for dynamic registration (by lookup key).
    InitialToken {
        /// hex SHA-256 of the token.
        key: String,
        /// Unix seconds.
        expires_at: u64,
        /// Unix seconds.
        created_at: u64,
    },
    /// A sign-in session ([`super::people::session`]).
    Session(NewSession),
    /// A use of a live session (its idle end moves).
    SessionSeen {
        /// The session's key (hex SHA-256 of the cookie value).
        key: String,
        /// Unix seconds.
        at: u64,
    },
    /// End one session (sign-out, or a new sign-in in the same browser).
    EndSession {
        /// The session's key.
        key: String,
    },
    /// End every session of a person ("sign out everywhere").
    EndSessionsOf {
        /// The person.
        user_id: String,
    },
    /// End one session of a person by its public id (the console's per-session end).
    EndSessionSid {
        /// The person.
        user_id: String,
        /// The session's public id.
        sid: String,
    },
    /// What a person consented to for a client (the union of every consent), replacing the
    /// row before.
    Consent {
        /// The person.
        user_id: String,
        /// The client.
        client_id: String,
        /// Space-separated scope.
        scope: String,
        /// Unix seconds.
        at: u64,
    },
    /// A link sent by email (verification, password reset), by its token's hash.
    EmailToken(super::people::recovery::NewEmailToken),
    /// A message for the local outbox (no email binding).
    Outbox(super::people::recovery::Message),
    /// The person's address is verified, if it is still `email`.
    EmailVerified {
        /// The person.
        user_id: String,
        /// The address the link went to.
        email: String,
    },
    /// A new password (a reset).
    SetPassword {
        /// The person.
        user_id: String,
        /// PBKDF2 record.
        hash: String,
    },
    /// A registered passkey.
    Passkey(super::people::passkey::ceremony::NewPasskey),
    /// A passkey signed in: its new counter.
    PasskeyUsed {
        /// Credential id.
        id: String,
        /// The counter the assertion carried.
        sign_count: u32,
        /// Unix seconds.
        at: u64,
    },
    /// An audit row.
    Audit(AuditEvent),
    /// A console session (by lookup key) for a person with the admin right; expired
    /// sessions go in the same statement's batch.
    ConsoleSession {
        /// hex SHA-256 of the cookie value.
        key: String,
        /// The person.
        user_id: String,
        /// Unix seconds.
        created_at: u64,
        /// Unix seconds.
        expires_at: u64,
    },
    /// End a console session (sign-out), and every session expired at `now`.
    EndConsoleSession {
        /// hex SHA-256 of the cookie value.
        key: String,
        /// Unix seconds.
        now: u64,
    },
    /// A row of the control plane between the edge and its relays (a TURN token issued,
    /// everything of a user revoked): [`super::control::Write`].
    Control(super::control::rows::Write),
}

/// Everything one request writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writes {
    /// Guard for the rows below.
    pub claim: Claim,
    /// The rows, in order.
    pub rows: Vec<Write>,
}

impl Writes {
    /// Nothing yet.
    pub fn new(claim: Claim) -> Writes {
        Writes {
            claim,
            rows: Vec::new(),
        }
    }

    /// Nothing at all: no claim and no rows.
    pub fn none() -> Writes {
        Writes::new(Claim::None)
    }

    /// Adds a row.
    pub fn push(&mut self, w: Write) {
        self.rows.push(w);
    }

    /// Adds an audit row.
    pub fn audit(&mut self, a: AuditEvent) {
        self.rows.push(Write::Audit(a));
    }

    /// Adds a row (builder form).
    pub fn with(mut self, w: Write) -> Writes {
        self.rows.push(w);
        self
    }

    /// True when nothing would be written.
    pub fn is_empty(&self) -> bool {
        self.claim == Claim::None && self.rows.is_empty()
    }

    /// The same writes with `actor` on every audit row: a change made from the console.
    pub fn by(mut self, actor: &str) -> Writes {
        for w in &mut self.rows {
            if let Write::Audit(a) = w {
                a.actor = Some(actor.to_string());
            }
        }
        self
    }

    /// The audit rows.
    pub fn audits(&self) -> impl Iterator<Item = &AuditEvent> {
        self.rows.iter().filter_map(|w| match w {
            Write::Audit(a) => Some(a),
            _ => None,
        })
    }

    /// The first row matching `f`.
    pub fn find<T>(&self, f: impl Fn(&Write) -> Option<&T>) -> Option<&T> {
        self.rows.iter().find_map(f)
    }
}
