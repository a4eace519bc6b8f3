//! The templates of `tradecloud new` and their rendering: which files a
//! project gets, the flags and placeholder values that [`Options`] give
//! them, and [`render`], the small template language (`{{name}}`
//! placeholders, whole-line `{{#if flag}}` / `{{else}}` / `{{/if}}`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use tradecloud::testing::Sample;

use super::{Delivery, EventKind, Options, Role};

/// The templates, embedded at build time: (path in the project, text).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../../templates/new/Cargo.toml"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../../../templates/new/cargo-config.toml"),
    ),
    (
        ".gitignore",
        include_str!("../../../../templates/new/gitignore"),
    ),
    (
        "README.md",
        include_str!("../../../../templates/new/README.md"),
    ),
    (
        "tradecloud.toml",
        include_str!("../../../../templates/new/tradecloud.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../../templates/new/src/lib.rs"),
    ),
    (
        "src/main.rs",
        include_str!("../../../../templates/new/src/main.rs"),
    ),
    (
        "src/handler.rs",
        include_str!("../../../../templates/new/src/handler.rs"),
    ),
    (
        "tests/webhooks.rs",
        include_str!("../../../../templates/new/tests/webhooks.rs"),
    ),
];

/// Every file of the project: (path relative to its directory, contents).
pub fn project_files(options: &Options) -> anyhow::Result<Vec<(String, String)>> {
    let (flags, vars) = template_values(options);
    let mut files = Vec::new();
    for (path, template) in TEMPLATES {
        let text = render(template, &flags, &vars)
            .map_err(|e| anyhow::anyhow!("template {path}: {e} (a bug in tradecloud new)"))?;
        files.push(((*path).to_owned(), text));
    }
    for sample in samples(options) {
        files.push((
            format!("samples/{}", sample_file(&sample)),
            sample.body().to_owned(),
        ));
    }
    Ok(files)
}

/// The event names a service of `role` is sent (for samples and tests).
fn event_names(role: Role) -> [&'static str; 3] {
    match role {
        Role::Buyer => [
            "OrderLinesConfirmedBySupplier",
            "OrderDocumentsAttachedBySupplier",
            "ShipmentIssuedBySupplier",
        ],
        Role::Supplier => [
            "OrderIssuedByBuyer",
            "OrderDocumentsAttachedByBuyer",
            "ShipmentApprovedByBuyer",
        ],
    }
}

fn samples(options: &Options) -> Vec<Sample> {
    let [order, documents, shipment] = event_names(options.role);
    options
        .events
        .iter()
        .map(|kind| match (kind, options.delivery) {
            (EventKind::Orders, Delivery::Multiple) => Sample::order_event(order),
            (EventKind::Orders, Delivery::Single) => Sample::single_delivery_order_event(order),
            (EventKind::Documents, _) => Sample::order_documents_event(documents),
            (EventKind::Shipments, _) => Sample::shipment_event(shipment),
        })
        .collect()
}

fn sample_file(sample: &Sample) -> &'static str {
    use tradecloud::testing::SampleKind;
    match sample.kind() {
        SampleKind::OrderEvent => "order-event.json",
        SampleKind::SingleDeliveryOrderEvent => "single-delivery-order-event.json",
        SampleKind::OrderDocumentsEvent => "order-documents-event.json",
        SampleKind::ShipmentEvent => "shipment-event.json",
    }
}

type Vars = Vec<(&'static str, String)>;

/// The conditional flags and the placeholder values for `options`.
fn template_values(options: &Options) -> (BTreeSet<&'static str>, Vars) {
    let has = |kind| options.events.contains(&kind);
    let (orders, documents, shipments) = (
        has(EventKind::Orders),
        has(EventKind::Documents),
        has(EventKind::Shipments),
    );
    let single = options.delivery == Delivery::Single;
    let buyer = options.role == Role::Buyer;
    let mut flags = BTreeSet::new();
    for (flag, on) in [
        ("orders", orders),
        ("documents", documents),
        ("shipments", shipments),
        ("order_webhook", orders || documents),
        // Kinds whose handler reads lines (and may skip event names).
        ("lines", orders || shipments),
        ("multiple", orders && !single),
        ("single", orders && single),
        ("buyer", buyer),
        ("supplier", !buyer),
        // The order handlers that answer through the SDK (Multiple Deliveries).
        ("supplier_answers", !buyer && orders && !single),
        ("buyer_answers", buyer && orders && !single),
    ] {
        if on {
            flags.insert(flag);
        }
    }

    let [order_name, documents_name, shipment_name] = event_names(options.role);
    let mut kinds = Vec::new();
    if orders {
        kinds.push("order");
    }
    if documents {
        kinds.push("order document");
    }
    if shipments {
        kinds.push("shipment");
    }
    let events_text = match kinds.as_slice() {
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    };

    let mut send = String::new();
    for sample in samples(options) {
        let path = if sample.kind().is_shipment() {
            "shipment"
        } else {
            "order"
        };
        if !send.is_empty() {
            send.push('\n');
        }
        let _ = write!(
            send,
            "tradecloud send https://127.0.0.1:8443/tradecloud/{path} --file samples/{} --basic tradecloud:change-me-to-a-long-secret -k",
            sample_file(&sample)
        );
    }

    let counterparty = if buyer { "supplier" } else { "buyer" };
    let mut portal = String::new();
    if orders {
        let (names, mode, field) = match (buyer, single) {
            (true, false) => ("the supplier's responses, e.g. *Order lines are accepted by the supplier*, *Order lines are confirmed by the supplier with different values than requested by the buyer*, *Order lines are rejected by the supplier* and *Order changes are proposed by the supplier*", "Multiple Deliveries", "orderEvent"),
            (true, true) => ("the supplier's responses, e.g. *Order lines are accepted by the supplier*, *Order lines are rejected by the supplier* and *Order changes are proposed by the supplier*", "Single Delivery", "singleDeliveryOrderEvent"),
            (false, false) => ("new and changed orders, e.g. *New order is issued by the buyer*, *Additional order lines are added by the buyer*, *Updated order lines are reissued by the buyer* and *Order lines are cancelled by the buyer*", "Multiple Deliveries", "orderEvent"),
            (false, true) => ("new and changed orders, e.g. *New order is issued by the buyer*, *Additional order lines are added by the buyer*, *Updated order lines are reissued by the buyer* and *Order lines are cancelled by the buyer*", "Single Delivery", "singleDeliveryOrderEvent"),
        };
        let _ = writeln!(
            portal,
            "* **Order Events Configuration**: enable the order webhook. Under **Event Selection** choose \
             {names} (`src/handler.rs` lists the event names it acts on). Set **Delivery Schedule Mode** to \
             **{mode}** (`{field}`): this service was made for that mode."
        );
    }
    if documents {
        let source = if buyer {
            "Supplier Documents"
        } else {
            "Buyer Documents"
        };
        let _ = writeln!(
            portal,
            "* **Document Events Configuration**: enable the document webhook, **Event Sources**: \
             **{source}** (or **Both**)."
        );
    }
    if shipments {
        let names = if buyer {
            "*New shipment is issued by the supplier* and *Updated shipment is reissued by the supplier*"
        } else {
            "*Shipment is approved by the buyer* and *Shipment is rejected by the buyer*"
        };
        let _ = writeln!(
            portal,
            "* **Shipment Events Configuration**: enable the shipment webhook and select {names}. \
             Shipment webhooks support Basic Authentication and a Bearer Token, not OAuth."
        );
    }

    // The first kind chosen drives the test of a failing download.
    let (missing_document, failing_sample, failing_event) = if orders {
        (
            "67aa8ece-5d41-496f-a94c-483e360b833b",
            if single {
                "single_delivery_order_event"
            } else {
                "order_event"
            },
            order_name,
        )
    } else if documents {
        (
            "4c3b2a19-0f8e-4d7c-b6a5-948372615a0b",
            "order_documents_event",
            documents_name,
        )
    } else {
        (
            "05d251f0-0166-4e1e-8110-8d7a507b18f4",
            "shipment_event",
            shipment_name,
        )
    };

    let vars = vec![
        ("name", options.name.clone()),
        ("crate_name", options.name.replace('-', "_")),
        ("role", options.role.flag().to_owned()),
        ("counterparty", counterparty.to_owned()),
        ("events_text", events_text),
        ("tradecloud_source", options.source.toml()),
        ("install_command", options.source.install_command()),
        ("send_commands", send),
        ("portal_steps", portal),
        (
            "order_sample",
            if single {
                "single_delivery_order_event"
            } else {
                "order_event"
            }
            .to_owned(),
        ),
        (
            "order_event_field",
            if single {
                "singleDeliveryOrderEvent"
            } else {
                "orderEvent"
            }
            .to_owned(),
        ),
        ("order_event_name", order_name.to_owned()),
        ("documents_event_name", documents_name.to_owned()),
        ("shipment_event_name", shipment_name.to_owned()),
        ("missing_document", missing_document.to_owned()),
        ("failing_sample", failing_sample.to_owned()),
        ("failing_event_name", failing_event.to_owned()),
    ];
    (flags, vars)
}

/// Render a template: drop the lines of `{{#if flag}}` blocks whose flag is
/// not set (and of their `{{else}}` part when it is), drop the marker lines
/// themselves, then replace `{{name}}` placeholders. Blocks nest. Any `{{`
/// left over is an error, so a misspelt placeholder never reaches a user.
pub fn render(
    template: &str,
    flags: &BTreeSet<&str>,
    vars: &[(&str, String)],
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    // One entry per open block: whether its current branch is kept.
    let mut stack: Vec<bool> = Vec::new();
    for (number, line) in template.lines().enumerate() {
        let number = number + 1;
        if let Some(rest) = line.split("{{#if ").nth(1) {
            let flag = rest
                .split("}}")
                .next()
                .ok_or_else(|| format!("line {number}: unclosed {{{{#if"))?
                .trim();
            stack.push(flags.contains(flag));
            continue;
        }
        if line.contains("{{else}}") {
            let top = stack
                .last_mut()
                .ok_or_else(|| format!("line {number}: {{{{else}}}} outside a block"))?;
            *top = !*top;
            continue;
        }
        if line.contains("{{/if}}") {
            stack
                .pop()
                .ok_or_else(|| format!("line {number}: {{{{/if}}}} without {{{{#if}}}}"))?;
            continue;
        }
        if stack.iter().all(|keep| *keep) {
            let mut line = line.to_owned();
            for (name, value) in vars {
                line = line.replace(&format!("{{{{{name}}}}}"), value);
            }
            if let Some(at) = line.find("{{") {
                return Err(format!(
                    "line {number}: unknown placeholder `{}`",
                    &line[at..]
                ));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !stack.is_empty() {
        return Err(format!("{} unclosed {{{{#if}}}} block(s)", stack.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[&'static str]) -> BTreeSet<&'static str> {
        list.iter().copied().collect()
    }

    #[test]
    fn conditionals_nest_and_else_flips() {
        let template = "a\n// {{#if x}}\nb\n// {{#if y}}\nc\n// {{else}}\nd\n// {{/if}}\n// {{/if}}\ne {{v}}\n";
        let vars = [("v", "1".to_owned())];
        assert_eq!(
            render(template, &flags(&["x"]), &vars).unwrap(),
            "a\nb\nd\ne 1\n"
        );
        assert_eq!(
            render(template, &flags(&["x", "y"]), &vars).unwrap(),
            "a\nb\nc\ne 1\n"
        );
        assert_eq!(render(template, &flags(&["y"]), &vars).unwrap(), "a\ne 1\n");
    }

    #[test]
    fn unknown_placeholders_and_unbalanced_blocks_are_errors() {
        let none = flags(&[]);
        assert!(render("{{nope}}\n", &none, &[])
            .unwrap_err()
            .contains("nope"));
        assert!(render("{{#if x}}\n", &none, &[]).is_err());
        assert!(render("{{/if}}\n", &none, &[]).is_err());
        assert!(render("{{else}}\n", &none, &[]).is_err());
    }
}
