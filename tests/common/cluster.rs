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
