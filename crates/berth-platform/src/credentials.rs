//! API tokens and passwords. A token reads `berth_<id>_<secret>`: the id
//! finds its row, the 256-bit secret is stored only as its SHA-256 and
//! compared in constant time. Passwords are hashed with argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const TOKEN_PREFIX: &str = "berth_";

/// A freshly minted token: `id` is public, `secret` is shown once.
pub(crate) struct MintedToken {
    pub id: String,
    pub secret_sha256: String,
    pub token: String,
}

pub(crate) fn mint_token() -> MintedToken {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let (id, secret) = (hex::encode(id), hex::encode(secret));
    MintedToken {
        token: format!("{TOKEN_PREFIX}{id}_{secret}"),
        secret_sha256: digest(&secret),
        id,
    }
}

/// Splits a presented token into its id and secret; `None` if it cannot be one of ours.
pub(crate) fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    let is_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (is_hex(id, 16) && is_hex(secret, 64)).then_some((id, secret))
}

pub(crate) fn secret_matches(secret: &str, stored_sha256: &str) -> bool {
    digest(secret)
        .as_bytes()
        .ct_eq(stored_sha256.as_bytes())
        .into()
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(crate) fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashing with default parameters cannot fail")
        .to_string()
}

/// Checks `password` against `stored`; with no stored hash (unknown user, or
/// a user without a password) it still spends the same work, so timing does
/// not tell whether an account exists.
pub(crate) fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash_password("decoy password"));
    let hash = PasswordHash::new(stored.unwrap_or(decoy)).ok();
    let verified = hash.is_some_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    });
    verified && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_split_and_match_only_their_own_digest() {
        let minted = mint_token();
        let (id, secret) = split_token(&minted.token).unwrap();
        assert_eq!(id, minted.id);
        assert!(secret_matches(secret, &minted.secret_sha256));
        assert!(!secret_matches(secret, &mint_token().secret_sha256));
        assert!(
            !minted.secret_sha256.contains(secret),
            "the secret is not stored"
        );
    }

    #[test]
    fn foreign_strings_are_not_tokens() {
        for bogus in [
            "",
            "bogus",
            "berth_",
            "berth_abc_def",
            &format!("berth_{}_{}", "g".repeat(16), "0".repeat(64)),
        ] {
            assert_eq!(split_token(bogus), None, "{bogus:?}");
        }
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(
            !verify_password("decoy password", None),
            "no stored hash never verifies"
        );
    }
}
