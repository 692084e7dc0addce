//! busybox `nslookup NAME [SERVER]`: plain DNS over UDP, busybox's output.

use super::dns::{self, Record};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

pub fn main(args: &[String]) -> ExitCode {
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let Some(name) = positional.first() else {
        eprintln!("BusyBox v1.36.1 (mkube builtin) multi-call binary.\n\nUsage: nslookup [-type=QUERY_TYPE] HOST [DNS_SERVER]");
        return ExitCode::from(1);
    };
    let rc = dns::resolv_conf();
    let server_ip: IpAddr = match positional.get(1) {
        Some(s) => match s.parse() {
            Ok(ip) => ip,
            Err(_) => match dns::resolve(s).and_then(|v| v.first().copied()) {
                Some(ip) => ip,
                None => {
                    eprintln!("nslookup: bad address '{s}'");
                    return ExitCode::from(1);
                }
            },
        },
        None => rc
            .nameservers
            .first()
            .copied()
            .unwrap_or(IpAddr::from([127, 0, 0, 1])),
    };
    let server = SocketAddr::new(server_ip, 53);
    println!("Server:\t\t{server_ip}");
    println!("Address:\t{server}\n");
    // A literal address: a reverse lookup is out of scope; echo it back.
    if let Ok(ip) = name.parse::<IpAddr>() {
        println!("Name:\t{ip}\nAddress: {ip}\n");
        return ExitCode::SUCCESS;
    }
    let mut last_rcode = 3;
    for cand in dns::candidates(name, &rc) {
        let mut printed = false;
        let mut found = false;
        for t in [dns::TYPE_A, dns::TYPE_AAAA] {
            match dns::query(server, &cand, t) {
                Ok(ans) => {
                    last_rcode = ans.rcode;
                    if ans.rcode != 0 {
                        continue;
                    }
                    found = true;
                    for r in &ans.records {
                        match r {
                            Record::Cname(n, target) if t == dns::TYPE_A => {
                                println!("{n}\tcanonical name = {target}");
                            }
                            Record::A(n, ip) => {
                                println!("Name:\t{n}\nAddress: {ip}");
                                printed = true;
                            }
                            _ => {}
                        }
                    }
                }
                Err(e) => {
                    println!(";; connection timed out; no servers could be reached\n");
                    let _ = e;
                    return ExitCode::from(1);
                }
            }
        }
        if found && printed {
            println!();
            return ExitCode::SUCCESS;
        }
        if found {
            // NOERROR without addresses.
            println!("*** Can't find {cand}: No answer\n");
            return ExitCode::SUCCESS;
        }
    }
    let what = match last_rcode {
        2 => "SERVFAIL",
        5 => "REFUSED",
        _ => "NXDOMAIN",
    };
    println!("** server can't find {name}: {what}\n");
    ExitCode::from(1)
}
