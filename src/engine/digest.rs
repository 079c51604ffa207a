//! A fingerprint of the exchange's whole state, so that two states can be compared for equality
//! without shipping them: the live server's after a restart against an offline replay of the
//! same data directory (`calamari replay`), and a recovered state against a replay of what a
//! simulated disk kept (`tests/storage_faults.rs`).
//!
//! The digest is SHA-256 over a canonical dump: every account (name, balances, holds, open
//! orders, fee volume), the order counter and every order not final (closed orders, like trade
//! records, count through the history's running hash), both sides of every book
//! level by level, the market data (public trades, candles, spreads), the trade records, the
//! ledger and the closed orders (as the running hash of every record emitted, `outbox`), the funding state, the
//! timers (expiries, starts, dead man's switches), the amend
//! histories, the funding and public-trade counters, the time of the last command and the id seed.
//! Only ordered containers are dumped (no `HashMap`: the name index is derived from the accounts),
//! so equal states give equal digests. The dump is the types' `Debug` form, which is stable for one
//! build of the binary; digests are compared between processes of the same build, never stored.

use super::Exchange;
use sha2::{Digest, Sha256};
use std::fmt::Write;

struct Hashing(Sha256);

impl Write for Hashing {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

impl Exchange {
    /// SHA-256 (hex) of the canonical dump of the whole state; see the module doc.
    pub fn digest(&self) -> String {
        let mut h = Hashing(Sha256::new());
        // Writing into a hasher cannot fail.
        let _ = self.dump(&mut h);
        h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn dump(&self, w: &mut impl Write) -> std::fmt::Result {
        writeln!(w, "ids {:?} now {} funding {} public {:?}", self.ids, self.now_ns, self.next_funding, self.next_public_trade)?;
        writeln!(w, "index {:?}", self.index)?;
        writeln!(w, "status {:?}", self.market_status)?;
        for (i, a) in self.accounts.iter().enumerate() {
            writeln!(w, "account {i} {a:?}")?;
        }
        writeln!(w, "orders next {}", self.orders.next_seq())?;
        for o in &self.orders {
            writeln!(w, "order {o:?}")?;
        }
        for (p, book) in self.books.iter().enumerate() {
            for side in [super::order::Side::Buy, super::order::Side::Sell] {
                for (price, level) in book.levels(side) {
                    let queue: Vec<_> = book.queue(level, &self.orders).collect();
                    writeln!(w, "book {p} {side:?} {price} {} {} {queue:?}", level.volume, level.changed_ns)?;
                }
            }
        }
        for (p, md) in self.market_data.iter().enumerate() {
            writeln!(w, "market {p} {md:?}")?;
        }
        // The trade records and ledger entries as their running hash (see `outbox`).
        writeln!(w, "history {:?}", self.history)?;
        writeln!(w, "funding {:?}", self.funding)?;
        writeln!(w, "triggers {:?}", self.triggers)?;
        writeln!(w, "timers {:?}", self.timers)?;
        writeln!(w, "amends {}", self.next_amend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::engine::markets::Markets;
    use crate::engine::{Command, Envelope, Exchange};

    fn exchange() -> Exchange {
        Exchange::new(Markets::from_config(&Config::builtin()).unwrap(), 7)
    }

    #[test]
    fn equal_histories_give_equal_digests_and_any_change_shows() {
        let cmds = [
            Command::CreateAccount { name: "a".into() },
            Command::Deposit { account: 2, asset: 0, amount: 5 },
            Command::Deposit { account: 2, asset: 0, amount: 6 },
        ];
        let (mut x, mut y) = (exchange(), exchange());
        assert_eq!(x.digest(), y.digest());
        for (i, c) in cmds.iter().enumerate() {
            let env = Envelope { time_ns: i as u64, key_nonce: None, command: c.clone() };
            x.apply(&env).unwrap();
            assert_ne!(x.digest(), y.digest(), "command {i} changed nothing visible");
            y.apply(&env).unwrap();
            assert_eq!(x.digest(), y.digest());
        }
        // The same commands in another order are another state.
        let mut z = exchange();
        for (i, c) in [&cmds[0], &cmds[2], &cmds[1]].iter().enumerate() {
            z.apply(&Envelope { time_ns: i as u64, key_nonce: None, command: (*c).clone() }).unwrap();
        }
        assert_ne!(x.digest(), z.digest());
    }
}
