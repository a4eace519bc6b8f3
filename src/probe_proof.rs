//! The proof that a request refused for its credentials is one of
//! `tradecloud doctor`'s probes (`auth.missing`, `auth.wrong`, `auth.get`)
//! sent by someone who holds the configured credentials, so that
//! `tradecloud serve` counts it as `reason="doctor_probe"` instead of
//! `unauthorized` (the failed-login alert): each doctor run would otherwise
//! add two failed logins, and three runs in ten minutes fired the alert.
//!
//! The header [`HEADER`] carries `v1 t=UNIX_SECS,n=NONCE,mac=HMAC` where
//! `HMAC` is HMAC-SHA256 over `tradecloud-doctor-probe v1\nT\nN`, keyed
//! with the SHA-256 of the secret (the Basic password, or the static Bearer
//! token): the receiver keeps only that digest, and the header reveals
//! nothing of the secret. Someone without the secret cannot make one, so an
//! attacker cannot hide guesses by imitating the doctor; a proof counts once
//! (its nonce is remembered) and only within [`MAX_SKEW`] of the receiver's
//! clock, so a proof copied from a log cannot be replayed either. OAuth
//! (Entra) receivers share no secret with the doctor: there the key is the
//! SHA-256 of an access token the receiver accepted in the last five
//! minutes (the doctor sends a request with its token before the probes
//! without it), which only a holder of that token can know.

use aws_lc_rs::hmac;

/// The request header of a proof.
pub(crate) const HEADER: &str = "tradecloud-doctor-proof";

/// How far a proof's time may be from the receiver's clock, in seconds.
#[cfg_attr(not(feature = "receiver"), allow(dead_code))]
pub(crate) const MAX_SKEW: u64 = 300;

/// The HMAC key made from a secret's SHA-256 digest.
fn key(secret_digest: &[u8; 32]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret_digest)
}

fn message(time: u64, nonce: &str) -> String {
    format!("tradecloud-doctor-probe v1\n{time}\n{nonce}")
}

/// The SHA-256 of `secret`, the key of its proofs.
#[cfg(feature = "doctor")]
pub(crate) fn secret_digest(secret: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A fresh proof (the header's value) for the holder of `secret`, at `time`
/// (Unix seconds).
#[cfg(feature = "doctor")]
pub(crate) fn make(secret: &[u8], time: u64) -> String {
    let nonce: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    let nonce = crate::hex::lower(&nonce);
    let tag = hmac::sign(
        &key(&secret_digest(secret)),
        message(time, &nonce).as_bytes(),
    );
    format!(
        "v1 t={time},n={nonce},mac={}",
        crate::hex::lower(tag.as_ref())
    )
}

/// The nonce of `value` when it is a proof made with the secret whose
/// digest is `secret_digest` within [`MAX_SKEW`] of `now`; `None` for
/// anything else. The caller must still refuse a nonce seen before.
#[cfg(feature = "receiver")]
pub(crate) fn verify(value: &str, secret_digest: &[u8; 32], now: u64) -> Option<(String, u64)> {
    let fields = value.strip_prefix("v1 ")?;
    let (mut time, mut nonce, mut mac) = (None, None, None);
    for field in fields.split(',') {
        match field.trim().split_once('=')? {
            ("t", v) => time = v.parse::<u64>().ok(),
            ("n", v)
                if (16..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                nonce = Some(v.to_string())
            }
            ("mac", v) if v.len() == 64 => {
                mac = (0..32)
                    .map(|i| u8::from_str_radix(v.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()
            }
            _ => return None,
        }
    }
    let (time, nonce, mac) = (time?, nonce?, mac?);
    if time.abs_diff(now) > MAX_SKEW {
        return None;
    }
    hmac::verify(&key(secret_digest), message(time, &nonce).as_bytes(), &mac).ok()?;
    Some((nonce, time))
}

#[cfg(all(test, feature = "doctor", feature = "receiver"))]
mod tests {
    use super::*;

    #[test]
    fn only_the_holder_of_the_secret_makes_a_proof_and_only_now() {
        let digest = secret_digest(b"correct horse");
        let now = 1_800_000_000;
        let proof = make(b"correct horse", now);
        assert!(verify(&proof, &digest, now).is_some());
        assert!(verify(&proof, &digest, now + MAX_SKEW).is_some());
        assert!(verify(&proof, &digest, now + MAX_SKEW + 1).is_none());
        assert!(verify(&make(b"a guess", now), &digest, now).is_none());
        // Changing any part breaks it.
        let later = proof.replace(&format!("t={now}"), &format!("t={}", now + 1));
        assert!(verify(&later, &digest, now).is_none());
        assert!(verify(
            "v1 t=1,n=00000000000000000000000000000000,mac=00",
            &digest,
            1
        )
        .is_none());
        assert!(verify("", &digest, now).is_none());
        assert!(!proof.contains("correct"));
    }
}
