//! `iris keys new --user NAME` and `iris keys hash KEY`: issue gateway keys. The key goes to
//! the user; only its SHA-256 goes into the config (`iris.identity.gateway_keys`).

use crate::args::Args;
use iris::sha256;
use std::io::Read;

pub fn main(argv: &[String]) -> Result<(), String> {
    match argv.first().map(String::as_str) {
        Some("new") => {
            let args = Args::parse(argv.get(1..).unwrap_or(&[]), &["user"], &[])?;
            let user = args.value("user").ok_or("--user NAME is required")?;
            let key = new_key()?;
            let hash = sha256::hex(&sha256::digest(key.as_bytes()));
            println!("key (give it to {user}; it is not stored anywhere): {key}");
            println!("config entry for iris.identity.gateway_keys:");
            println!(
                "  {{\"user\": {}, \"sha256\": \"{hash}\"}}",
                serde_json::Value::from(user)
            );
            Ok(())
        }
        Some("hash") => {
            let key = argv.get(1).ok_or("usage: iris keys hash KEY")?;
            println!("{}", sha256::hex(&sha256::digest(key.as_bytes())));
            Ok(())
        }
        _ => Err("usage: iris keys new --user NAME | iris keys hash KEY".to_string()),
    }
}

/// `iris-` and 32 random bytes in hex, from the operating system's random source.
fn new_key() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(format!("iris-{}", sha256::hex(&bytes)))
}
