//! Naming rules shared by every emitter, kept identical to typify's so that
//! a name computed here is the name typify gives the same schema.

use heck::{ToPascalCase, ToSnakeCase};

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn sanitize(input: &str, pascal: bool) -> String {
    let cleaned = input
        .replace('\'', "")
        .replace(|c: char| !is_ident_continue(c), "-");
    let out = if pascal {
        cleaned.to_pascal_case()
    } else {
        cleaned.to_snake_case()
    };
    let prefix = if pascal { "X" } else { "x" };
    let out = match out.chars().next() {
        None => prefix.to_string(),
        Some(c) if c.is_alphabetic() || c == '_' => out,
        Some(_) => format!("{prefix}{out}"),
    };
    if is_keyword(&out) {
        format!("{out}_")
    } else {
        out
    }
}

/// Rust type name of a schema or operation-derived type (`PascalCase`).
pub fn type_name(input: &str) -> String {
    sanitize(input, true)
}

/// Rust field, function or module name (`snake_case`).
pub fn field_name(input: &str) -> String {
    sanitize(input, false)
}

/// Rust module name of a spec file stem (`order-search` → `order_search`).
pub fn module_name(stem: &str) -> String {
    sanitize(stem, false)
}

/// Enum variant name of an enum value (`ReadyToShip` → `ReadyToShip`,
/// `in-progress` → `InProgress`).
pub fn variant_name(value: &str) -> String {
    let v = sanitize(value, true);
    if v == "Unknown" || v == "Self_" {
        format!("{v}Value")
    } else {
        v
    }
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "_" | "abstract"
            | "as"
            | "async"
            | "await"
            | "become"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "do"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "final"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "override"
            | "priv"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "try"
            | "type"
            | "typeof"
            | "union"
            | "unsafe"
            | "unsized"
            | "use"
            | "virtual"
            | "where"
            | "while"
            | "yield"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rust_conventions() {
        assert_eq!(type_name("order-event"), "OrderEvent");
        assert_eq!(type_name("OrderEvent"), "OrderEvent");
        assert_eq!(type_name("1stThing"), "X1stThing");
        assert_eq!(field_name("orderId"), "order_id");
        assert_eq!(field_name("type"), "type_");
        assert_eq!(module_name("order-search"), "order_search");
        assert_eq!(variant_name("ReadyToShip"), "ReadyToShip");
        assert_eq!(variant_name("Unknown"), "UnknownValue");
        // idempotent, so renamed components keep their name inside typify
        assert_eq!(
            type_name(&type_name("my.weird name")),
            type_name("my.weird name")
        );
    }
}
