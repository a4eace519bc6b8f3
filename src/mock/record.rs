//! The three kinds of object the mock keeps (orders, single-delivery
//! orders, shipments) behind one trait, so that storing, stamping and
//! looking them up is written once in [`MockState`](super::state::MockState).

use std::collections::BTreeMap;

use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::changes::LastUpdated;
use crate::types::DateTime;

use super::state::Objects;

/// An object the mock stores by id and hands out in polls; its change time
/// is its [`LastUpdated`] time.
pub(crate) trait Record: Clone + Sized + LastUpdated {
    /// What it is called in errors ("order").
    const KIND: &'static str;
    /// Its id, which the mock needs to store it.
    fn record_id(&self) -> Option<String>;
    /// Set its `lastUpdatedAt` to `now`, and that of its lines that carry
    /// no timestamp of their own.
    fn stamp(&mut self, now: &DateTime);
    /// The map of its kind in the store.
    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self>;
}

impl Record for Order {
    const KIND: &'static str = "order";

    fn record_id(&self) -> Option<String> {
        self.id.clone()
    }

    fn stamp(&mut self, now: &DateTime) {
        for line in self.lines.iter_mut() {
            if line.last_updated().is_none() {
                line.last_updated_at = Some(now.clone());
            }
        }
        self.last_updated_at = Some(now.clone());
    }

    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self> {
        &mut objects.orders
    }
}

impl Record for SingleDeliveryOrder {
    const KIND: &'static str = "single-delivery order";

    fn record_id(&self) -> Option<String> {
        self.id.clone()
    }

    fn stamp(&mut self, now: &DateTime) {
        self.lines
            .iter_mut()
            .filter(|line| line.last_updated().is_none())
            .for_each(|line| line.last_updated_at = Some(now.clone()));
        self.last_updated_at = Some(now.clone());
    }

    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self> {
        &mut objects.single_delivery_orders
    }
}

impl Record for Shipment {
    const KIND: &'static str = "shipment";

    fn record_id(&self) -> Option<String> {
        self.id.clone()
    }

    fn stamp(&mut self, now: &DateTime) {
        let lines = self.lines.iter_mut().chain(
            self.load_carriers
                .iter_mut()
                .flat_map(|c| c.lines.iter_mut()),
        );
        for line in lines {
            let meta = line.meta.get_or_insert_with(Default::default);
            if meta.last_updated().is_none() {
                meta.last_updated_at = Some(now.clone());
            }
        }
        self.meta
            .get_or_insert_with(Default::default)
            .last_updated_at = Some(now.clone());
    }

    fn map(objects: &mut Objects) -> &mut BTreeMap<String, Self> {
        &mut objects.shipments
    }
}
