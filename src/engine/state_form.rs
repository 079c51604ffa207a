//! The exchange's serialized form (checkpoints), written by hand only because the books' queues
//! are linked through the orders' records (`queue`): a book cannot write its levels' orders
//! without the orders' arena, so the books are written through `Book::form`. Every other field
//! is written as the derive would, in the struct's order, and the form is read back by the
//! derived `Deserialize` (then `Exchange::relink_queues`). A field added to `Exchange` must be
//! added here too (the checkpoint tests compare a restored state's digest with the live one's).

use super::Exchange;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Writes each named field of `$x` as the derive would.
macro_rules! fields {
    ($st:ident, $x:ident: $($f:ident),*) => {
        $($st.serialize_field(stringify!($f), &$x.$f)?;)*
    };
}

impl Serialize for Exchange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let books: Vec<_> = self.books.iter().map(|b| b.form(&self.orders)).collect();
        let mut st = s.serialize_struct("Exchange", 18)?;
        fields!(st, self: markets, ids, accounts, account_names, orders);
        st.serialize_field("books", &books)?;
        fields!(st, self: market_data, history, next_funding, funding, next_public_trade, index, timers, now_ns, triggers);
        fields!(st, self: next_amend, market_status, order_events);
        st.end()
    }
}
