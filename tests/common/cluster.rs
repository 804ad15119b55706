//! A three-node JetStream cluster of real nats-server processes on
//! loopback ports, routed to each other, each with its own store.

use std::path::Path;

use authd::nats_server::{NatsServer, free_port, locate};

/// Three nodes routed to each other, JetStream on each. Lame duck mode
/// (SIGUSR2) closes a node's clients a second apart after a second's grace
/// and stops once none is left (30 s is the least nats-server allows as
/// the whole), for rolling restarts.
pub fn cluster(dir: &Path) -> Vec<NatsServer> {
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let all = routes
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(", ");
    (0..3)
        .map(|i| {
            let conf = dir.join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\ncluster {{\n  name: authd\n  listen: 127.0.0.1:{}\n  routes: [{all}]\n}}\n",
                    routes[i]
                ),
            )
            .unwrap();
            NatsServer::start_configured(locate(None).unwrap(), &dir.join(format!("n{i}")), None, Some(conf))
                .expect("a cluster node starts")
        })
        .collect()
}

/// Node 2 of a `split_cluster`, in a network namespace of its own joined
/// to the host by a veth pair: `cut` takes the host's end down, and node 2
/// no longer reaches its peers nor its clients them (a partition, with
/// every process still running); `heal` brings it back.
pub struct Split {
    netns: String,
    host_end: String,
}

impl Split {
    pub fn cut(&self) {
        ip(&["link", "set", &self.host_end, "down"]).expect("the link goes down");
    }

    pub fn heal(&self) {
        ip(&["link", "set", &self.host_end, "up"]).expect("the link comes up");
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_end]);
        let _ = ip(&["netns", "del", &self.netns]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A namespace and veth pair for node 2, or why not (not root, no `ip`).
fn namespace() -> Result<(Split, [u8; 4], [u8; 4]), String> {
    let id = std::process::id();
    let split = Split {
        netns: format!("authd-t{id}"),
        host_end: format!("at{}", id % 1_000_000),
    };
    let inside_end = format!("an{}", id % 1_000_000);
    let net = (id % 200 + 20) as u8;
    let (host, node) = ([10, 213, net, 1], [10, 213, net, 2]);
    let addr = |a: [u8; 4]| format!("{}.{}.{}.{}/30", a[0], a[1], a[2], a[3]);
    ip(&["netns", "add", &split.netns])?;
    ip(&[
        "link",
        "add",
        &split.host_end,
        "type",
        "veth",
        "peer",
        "name",
        &inside_end,
    ])?;
    ip(&["link", "set", &inside_end, "netns", &split.netns])?;
    ip(&["addr", "add", &addr(host), "dev", &split.host_end])?;
    ip(&["link", "set", &split.host_end, "up"])?;
    let inside = |args: &[&str]| {
        let mut all = vec!["netns", "exec", &split.netns, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    };
    inside(&["addr", "add", &addr(node), "dev", &inside_end])?;
    inside(&["link", "set", &inside_end, "up"])?;
    inside(&["link", "set", "lo", "up"])?;
    Ok((split, host, node))
}

/// `cluster`, with node 2 behind a link the test can cut (see `Split`):
/// nodes 0 and 1 listen on the host's end of the veth pair, node 2 inside
/// the namespace. Without network namespaces here (not root, no `ip`), a
/// plain `cluster` and `None`, with the reason printed.
pub fn split_cluster(dir: &Path) -> (Vec<NatsServer>, Option<Split>) {
    let (split, host, node) = match namespace() {
        Ok(parts) => parts,
        Err(why) => {
            eprintln!("no partition test here: {why}");
            return (cluster(dir), None);
        }
    };
    let hosts: [std::net::IpAddr; 3] = [host.into(), host.into(), node.into()];
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let all = (0..3)
        .map(|i| format!("nats-route://{}:{}", hosts[i], routes[i]))
        .collect::<Vec<_>>()
        .join(", ");
    // Node 2's nats-server runs inside the namespace (`ip netns exec`
    // execs it: same process id, so signals and restarts work as for the
    // others).
    let binary = locate(None).unwrap();
    let wrapper = dir.join("nats-server-in-netns");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec ip netns exec {} {} \"$@\"\n",
            split.netns,
            binary.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nodes = (0..3)
        .map(|i| {
            let conf = dir.join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\ncluster {{\n  name: authd\n  listen: {}:{}\n  routes: [{all}]\n}}\n",
                    hosts[i], routes[i]
                ),
            )
            .unwrap();
            let run = if i == 2 { wrapper.clone() } else { binary.clone() };
            NatsServer::start_at(run, hosts[i], &dir.join(format!("n{i}")), None, Some(conf))
                .expect("a cluster node starts")
        })
        .collect();
    (nodes, Some(split))
}

/// An authd role as its own process, logging to `log`.
pub fn role(args: &[&str], log: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}
