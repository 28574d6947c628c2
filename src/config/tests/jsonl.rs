//! `format.kind = "jsonl"`: its keys, its defaults, and each error with its
//! exact `:line:column: key.path` and message.

use super::{Fixture, MINIMAL};
use crate::format::Format;
use crate::format::jsonl::{Extra, JsonlFormat};

fn with_format(lines: &str) -> String {
    format!("{MINIMAL}\n[jobs.orders.format]\nkind = \"jsonl\"\n{lines}")
}

fn format_of(text: &str) -> JsonlFormat {
    match &Fixture::new().ok(text).jobs["orders"].format {
        Format::Jsonl(j) => j.clone(),
        other => panic!("{other:?}"),
    }
}

fn assert_err(text: &str, expected: &str) {
    let got = Fixture::new().err(text);
    assert!(
        got.starts_with(expected),
        "\nexpected: {expected}\n     got: {got}"
    );
}

const COLUMNS: &str = r#"
[[jobs.orders.columns]]
name = "id"
type = "bigint"
from = "/user/id"

[[jobs.orders.columns]]
name = "extra"
type = "text"
"#;

#[test]
fn keys_and_defaults() {
    assert_eq!(format_of(&with_format("")), JsonlFormat::default());
    assert_eq!(JsonlFormat::default().extra, Extra::Ignore);
    assert_eq!(
        format_of(&with_format("extra = \"reject\"\nskip_lines = 2\n")),
        JsonlFormat {
            extra: Extra::Reject,
            skip_lines: 2
        }
    );
    // extra_column alone means extra = "column".
    for lines in [
        "extra = \"column\"\nextra_column = \"extra\"\n",
        "extra_column = \"extra\"\n",
    ] {
        let text = format!("{}{COLUMNS}", with_format(lines));
        assert_eq!(format_of(&text).extra, Extra::Column("extra".into()));
    }
    // Without columns, the extra column need not be listed.
    assert_eq!(
        format_of(&with_format("extra_column = \"rest\"\n")).extra,
        Extra::Column("rest".into())
    );
}

#[test]
fn errors() {
    // MINIMAL is 10 lines, then a blank one, the table header and `kind`.
    assert_err(
        &with_format("delimiter = \";\"\n"),
        ":14:13: jobs.orders.format.delimiter: `delimiter` does not apply to kind = \"jsonl\"",
    );
    assert_err(
        &with_format("null = \"\"\n"),
        ": jobs.orders.format.null: `null` does not apply to kind = \"jsonl\"",
    );
    assert_err(
        &with_format("pattern = \"x\"\n"),
        ":14:11: jobs.orders.format.pattern: `pattern` does not apply to kind = \"jsonl\"",
    );
    assert_err(
        &with_format("header = true\n"),
        ":14:10: jobs.orders.format.header: `header` does not apply to kind = \"jsonl\"",
    );
    assert_err(
        &with_format("extra = \"keep\"\n"),
        ":14:9: jobs.orders.format.extra: unknown value `keep`, expected one of `ignore`, `reject`, `column`",
    );
    assert_err(
        &with_format("extra = \"column\"\n"),
        ":14:9: jobs.orders.format.extra: extra = \"column\" needs extra_column = \"NAME\"",
    );
    assert_err(
        &with_format("extra = \"reject\"\nextra_column = \"x\"\n"),
        ":15:16: jobs.orders.format.extra_column: extra_column only applies with extra = \"column\", and extra is \"reject\"",
    );
    assert_err(
        &with_format("extra_column = \"\"\n"),
        ":14:16: jobs.orders.format.extra_column: empty extra_column",
    );
    assert_err(
        &format!("{MINIMAL}\n[jobs.orders.format]\nextra = \"reject\"\n"),
        ":13:9: jobs.orders.format.extra: `extra` does not apply to kind = \"csv\"",
    );
    // Against the columns: lines 14.. are the two columns of COLUMNS.
    let cols = |extra: &str, columns: &str| format!("{}{columns}", with_format(extra));
    assert_err(
        &cols("extra_column = \"rest\"\n", COLUMNS),
        ":14:16: jobs.orders.format.extra_column: \"rest\" is not one of the columns (id, extra): list it as a text column",
    );
    assert_err(
        &cols("extra_column = \"id\"\n", COLUMNS),
        ":18:8: jobs.orders.columns[0].type: \"id\" is the extra_column, which receives a JSON object: its type must be text or varchar(n)",
    );
    assert_err(
        &cols(
            "extra_column = \"extra\"\n",
            &COLUMNS.replace("type = \"text\"", "type = \"text\"\nconstant = \"x\""),
        ),
        ":24:12: jobs.orders.columns[1].constant: \"extra\" is the extra_column, which takes no value from a key: remove `constant`",
    );
    assert_err(
        &cols("", &COLUMNS.replace("/user/id", "/user~2id")),
        ":18:8: jobs.orders.columns[0].from: \"/user~2id\" is not a JSON Pointer: \"~\" must be followed by 0 (for \"~\") or 1 (for \"/\")",
    );
}
