//! `chinwag --discover`: the hubs mDNS finds on the LAN, printed as they are found.

use std::process::ExitCode;

/// Browses for `seconds` and prints each hub once, as soon as it is resolved.
pub(crate) fn discover(seconds: f64, first: bool, loopback: bool) -> ExitCode {
    if !(0.0..=3600.0).contains(&seconds) {
        eprintln!("chinwag: --timeout must be between 0 and 3600 seconds");
        return ExitCode::from(2);
    }
    let options = chinwag_discovery::Options {
        include_loopback: loopback,
    };
    let mut browser = match chinwag_discovery::Browser::start(options) {
        Ok(browser) => browser,
        Err(err) => {
            eprintln!("chinwag: cannot browse the LAN: {err}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let mut seen = std::collections::HashSet::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        if let Some(
            chinwag_discovery::HubEvent::Added(hub) | chinwag_discovery::HubEvent::Updated(hub),
        ) = browser.next_timeout(left)
        {
            if seen.insert(hub.id.clone()) {
                let address = match hub.addresses.first() {
                    Some(ip @ std::net::IpAddr::V6(_)) => format!("[{ip}]:{}", hub.port),
                    Some(ip) => format!("{ip}:{}", hub.port),
                    None => continue,
                };
                println!("{address}\t{}\t{}", hub.name, hub.id);
                if first {
                    break;
                }
            }
        }
    }
    if seen.is_empty() {
        eprintln!("chinwag: no hub answered within {seconds} s");
    }
    ExitCode::SUCCESS
}

/// `chinwag doctor ADDRESS`: prints each check's verdict, in words or as JSON; exits 1 when
/// one failed.
pub(crate) fn doctor(verdicts: &[chinwag_node::doctor::Verdict], json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&verdicts).unwrap_or_default()
        );
    } else {
        for v in verdicts {
            println!(
                "{} {:<11} {}",
                if v.ok { "ok  " } else { "FAIL" },
                v.check,
                v.says
            );
            if let Some(fix) = &v.fix {
                println!("     {:<11} {fix}", "");
            }
        }
    }
    if verdicts.iter().all(|v| v.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
