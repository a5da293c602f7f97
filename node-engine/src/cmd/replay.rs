//! Replaying an append-only file: each command looked up and run as a
//! write from a client of its own, without the checks a live client gets.
//! Used at start-up (by the server) and by DEBUG LOADAOF.

use super::call::call;
use super::Lookup;
use crate::client::Client;
use crate::node::Node;

/// Applies AOF commands to a node.
pub struct AofReplayer<'a> {
    node: &'a mut Node,
    client: Client,
}

impl<'a> AofReplayer<'a> {
    pub fn new(node: &'a mut Node) -> Self {
        // The AOF obeys like a master: writes are applied as written (XADD trims exactly, no LIMIT).
        let mut client = Client::new(0, std::net::SocketAddr::from(([0, 0, 0, 0], 0)), false);
        client.from_master = true;
        AofReplayer { node, client }
    }
}

impl crate::persistence::Loader for AofReplayer<'_> {
    fn parts(&mut self) -> crate::persistence::Parts<'_> {
        self.node.persistence_parts()
    }

    fn apply(&mut self, argv: &[&[u8]]) -> Result<(), String> {
        let cmd = match crate::cmd::table().find(argv) {
            Lookup::Found(cmd) => cmd,
            Lookup::Unknown => return Err(format!("Unknown command '{}' reading the append only file", String::from_utf8_lossy(argv[0]))),
            other => return Err(format!("{} reading the append only file", other.error(argv).unwrap_or_default())),
        };
        if !cmd.arity_ok(argv.len()) {
            return Err(format!("wrong number of arguments for '{}'", cmd.name));
        }
        call(self.node, &mut self.client, cmd, argv);
        self.client.reply.buf.clear();
        Ok(())
    }

    fn install_functions(&mut self) -> Result<(), String> {
        self.node.install_loaded_functions(crate::node::replication::FunctionLoad::Replace)
    }
}
