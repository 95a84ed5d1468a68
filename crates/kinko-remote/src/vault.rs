//! The office server as the core's [`Upstream`]: the vault's log, turns
//! and objects over this terminal's HTTPS connection. Bytes travel as
//! base64 in JSON; the core seals and checks them.

use std::path::Path;

use kinko_core::replica::{
    AppendAnswer, ApprovedTerminal, ErasedObject, GivenTurn, IncomingUnit, KnownTerminal,
    OutgoingUnit, Upstream, UpstreamState, UpstreamVault, WaitingDevice,
};
use kinko_core::Error;
use kinko_protocol::{CreateVault, NewUnit, Unit, VaultInfo};

use crate::http::Server;

type Result<T> = std::result::Result<T, Error>;

/// The vault of the server this terminal is enrolled with.
pub struct RemoteVault {
    server: Server,
    terminal: String,
}

impl RemoteVault {
    /// The vault of `server`, reached as the enrolled terminal `terminal`.
    pub fn new(server: Server, terminal: &str) -> Self {
        RemoteVault {
            server,
            terminal: terminal.to_string(),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|_| Error::Server(format!("the server sent {what} that is not base64")))
}

fn outgoing(unit: OutgoingUnit) -> NewUnit {
    NewUnit {
        sealed: b64(&unit.sealed),
        keyslots: unit.keyslots.as_deref().map(b64),
        snapshot: unit.snapshot,
    }
}

fn incoming(unit: Unit) -> Result<IncomingUnit> {
    Ok(IncomingUnit {
        seq: unit.seq,
        sealed: unb64(&unit.sealed, "a unit")?,
        keyslots: unit
            .keyslots
            .as_deref()
            .map(|k| unb64(k, "keyslots"))
            .transpose()?,
        snapshot: unit.snapshot,
    })
}

impl Upstream for RemoteVault {
    fn terminal_id(&self) -> String {
        self.terminal.clone()
    }

    fn state(&self) -> Result<UpstreamState> {
        let s = self.server.vault_state()?;
        Ok(UpstreamState {
            vault: s.vault.map(|v| UpstreamVault {
                vault_id: v.vault_id,
                schema_version: v.schema_version,
            }),
            head: s.head,
            keyslots: s
                .keyslots
                .as_deref()
                .map(|k| unb64(k, "keyslots"))
                .transpose()?,
            snapshot: s.snapshot,
        })
    }

    fn create(&self, vault: &UpstreamVault, unit: OutgoingUnit) -> Result<()> {
        self.server.create_vault(&CreateVault {
            vault: VaultInfo {
                vault_id: vault.vault_id.clone(),
                schema_version: vault.schema_version,
            },
            unit: outgoing(unit),
        })?;
        Ok(())
    }

    fn take_turn(&self, after: u64) -> Result<GivenTurn> {
        let t = self.server.take_turn(after)?;
        Ok(GivenTurn {
            lease: t.lease,
            head: t.head,
            units: t.units.into_iter().map(incoming).collect::<Result<_>>()?,
        })
    }

    fn give_back(&self, lease: &str) {
        let _ = self.server.give_back(lease);
    }

    fn append(&self, lease: &str, base: u64, unit: OutgoingUnit) -> Result<AppendAnswer> {
        let approve = unit.approve.clone().map(|a| kinko_protocol::Approve {
            code: a.code,
            key: a.key,
        });
        let erase = unit.erase.clone();
        let a = self
            .server
            .append(lease, base, outgoing(unit), approve, erase)?;
        Ok(AppendAnswer {
            seq: a.seq,
            approved: a.approved.map(|t| ApprovedTerminal {
                id: t.id,
                name: t.name,
                account: t.account,
            }),
        })
    }

    fn waiting(&self, code: &str) -> Result<WaitingDevice> {
        let w = self.server.waiting(code)?;
        Ok(WaitingDevice {
            code: w.code,
            name: w.name,
            account: w.account,
            key: w.key,
        })
    }

    fn terminals(&self) -> Result<Vec<KnownTerminal>> {
        Ok(self
            .server
            .terminals()?
            .into_iter()
            .map(|t| KnownTerminal {
                id: t.id,
                name: t.name,
                account: t.account,
                key: t.key,
                approved_in: t.approved_in,
                revoked: t.revoked,
            })
            .collect())
    }

    fn units_after(&self, after: u64) -> Result<(u64, Vec<IncomingUnit>)> {
        let u = self.server.units_after(after)?;
        Ok((
            u.head,
            u.units.into_iter().map(incoming).collect::<Result<_>>()?,
        ))
    }

    fn put_object(&self, name: &str, path: &Path) -> Result<()> {
        self.server.put_object(name, path)
    }

    fn get_object(&self, name: &str, into: &Path) -> Result<()> {
        self.server.get_object(name, into)
    }

    fn has_object(&self, name: &str) -> Result<bool> {
        self.server.has_object(name)
    }

    fn erased(&self) -> Result<Vec<ErasedObject>> {
        Ok(self
            .server
            .erased()?
            .into_iter()
            .map(|e| ErasedObject {
                name: e.name,
                unit: e.unit,
            })
            .collect())
    }
}
