//! A small command-line flag parser: `--name value`, `--name=value` and boolean `--name`.

use std::collections::HashMap;

/// Parsed flags of one subcommand.
pub struct Args {
    values: HashMap<String, String>,
    switches: Vec<String>,
    /// Arguments after `--`, passed on untouched.
    pub rest: Vec<String>,
}

impl Args {
    /// Parses `args`; `value_flags` take a value, `switch_flags` do not. Anything else is an error.
    pub fn parse(
        args: &[String],
        value_flags: &[&str],
        switch_flags: &[&str],
    ) -> Result<Args, String> {
        let mut values = HashMap::new();
        let mut switches = Vec::new();
        let mut iter = args.iter();
        let mut rest = Vec::new();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                rest = iter.cloned().collect();
                break;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if value_flags.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => iter
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("--{name} needs a value"))?,
                };
                values.insert(name.to_string(), value);
            } else if switch_flags.contains(&name) && inline.is_none() {
                switches.push(name.to_string());
            } else {
                return Err(format!("unknown option --{name}"));
            }
        }
        Ok(Args {
            values,
            switches,
            rest,
        })
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }
}
