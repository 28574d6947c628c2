//! Tests of the table checks: column types the sink writes and the job's
//! values fit, missing columns with Oracle's upper-case hint, and the
//! upsert's unique key with the `CREATE UNIQUE INDEX` to run.

use super::*;
use crate::format::ColumnType;

fn target(name: &str, data_type: &str) -> TargetColumn {
    TargetColumn {
        name: name.into(),
        data_type: data_type.into(),
        data_length: 22,
        char_length: 0,
        char_semantics: None,
        nullable: true,
    }
}

fn job(name: &str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        ty,
        nullable: true,
        formats: Vec::new(),
        from: None,
        null_if: None,
        default: None,
        constant: None,
    }
}

#[test]
fn columns_of_types_the_sink_does_not_write_are_refused_by_name() {
    let have = [target("ID", "NUMBER"), target("PIC", "BLOB")];
    let e = check_columns(&have, &[ColumnSpec::text("ID"), ColumnSpec::text("PIC")]).unwrap_err();
    assert_eq!(
        e,
        format!(
            "column \"PIC\" has type BLOB, which the oracle sink does not write (it writes {SUPPORTED})"
        )
    );
    // Not when the job does not load that column.
    assert_eq!(check_columns(&have, &[ColumnSpec::text("ID")]), Ok(()));
}

#[test]
fn typed_job_columns_must_fit_their_target_and_text_fits_everything() {
    let have = [
        target("D", "DATE"),
        target("N", "NUMBER"),
        target("T", "TIMESTAMP(6) WITH TIME ZONE"),
    ];
    let e = check_columns(&have, &[job("D", ColumnType::Int)]).unwrap_err();
    assert_eq!(
        e,
        "column \"D\" is DATE in the table, but the job gives int: no value of that type fits"
    );
    assert!(check_columns(&have, &[job("N", ColumnType::Date)]).is_err());
    let text = ColumnType::Text { max_chars: None };
    assert_eq!(
        check_columns(&have, &[job("D", text), job("N", text), job("T", text)]),
        Ok(())
    );
    assert_eq!(
        check_columns(
            &have,
            &[job("D", ColumnType::Timestamp), job("N", ColumnType::Float)]
        ),
        Ok(())
    );
}

#[test]
fn job_columns_take_the_upper_case_spelling_and_the_rest_are_missing() {
    let have = [target("ID", "NUMBER"), target("NOTE", "VARCHAR2")];
    // `id` takes `ID` (the one rule: exactly, else ignoring case when only
    // one matches); `x` is nowhere.
    let e = check_columns(&have, &[ColumnSpec::text("id"), ColumnSpec::text("x")]).unwrap_err();
    assert_eq!(e, "missing column(s) \"x\" (the table has ID, NOTE)");
    assert_eq!(check_columns(&have, &[ColumnSpec::text("id")]), Ok(()));
}

#[test]
fn upsert_is_refused_without_a_unique_key_on_exactly_the_key_columns() {
    let have = [target("ID", "NUMBER"), target("DAY", "DATE")];
    let key = vec!["ID".to_string(), "DAY".to_string()];
    let e = check_key("SALES", "ORDERS", &have, &key, &[]).unwrap_err();
    assert_eq!(
        e,
        "mode = \"upsert\" needs a primary key or unique index on exactly (ID, DAY) (it has \
         none): without one two workers' MERGEs of the same new key can both insert it; run \
         CREATE UNIQUE INDEX \"ORDERS_KEY\" ON \"SALES\".\"ORDERS\" (\"ID\", \"DAY\"), or let \
         create_table make the table"
    );
    // A key on fewer or more columns is not this key.
    let other = vec![
        ("constraint PK".to_string(), vec!["ID".to_string()]),
        (
            "index SALES.U3".to_string(),
            vec!["DAY".into(), "ID".into(), "X".into()],
        ),
    ];
    let e = check_key("SALES", "ORDERS", &have, &key, &other).unwrap_err();
    assert!(
        e.contains("(it has constraint PK on (ID); index SALES.U3 on (DAY, ID, X))"),
        "{e}"
    );
    // Columns in any order (the dictionary's are sorted).
    let ok = vec![(
        "index SALES.ORDERS_KEY".to_string(),
        vec!["DAY".to_string(), "ID".to_string()],
    )];
    assert_eq!(check_key("SALES", "ORDERS", &have, &key, &ok), Ok(()));
}

#[test]
fn a_lob_cannot_be_an_upsert_key() {
    let have = [target("DOC", "CLOB")];
    let key = vec!["DOC".to_string()];
    let keys = vec![("constraint X".to_string(), key.clone())];
    let e = check_key("S", "T", &have, &key, &keys).unwrap_err();
    assert_eq!(
        e,
        "column \"DOC\" is a CLOB: it cannot be part of an upsert key (LOBs are not compared)"
    );
}

#[test]
fn similar_names_hint() {
    assert_eq!(case_hint(&[]), "");
    assert_eq!(
        case_hint(&["ORDERS".to_string()]),
        format!("; the schema has \"ORDERS\": write that in the job's `table` ({UPPER_RULE})")
    );
}

fn have_named(names: &[&str]) -> Vec<TargetColumn> {
    names.iter().map(|n| target(n, "VARCHAR2")).collect()
}

fn cols(names: &[&str]) -> Vec<ColumnSpec> {
    names.iter().map(|n| ColumnSpec::text(n)).collect()
}

fn detail(e: SinkError) -> String {
    match e {
        SinkError::Columns { detail, .. } => detail,
        other => panic!("not a Columns error: {other}"),
    }
}

#[test]
fn columns_take_the_dictionary_s_spelling_by_the_one_rule() {
    // `CREATE TABLE t (id ..., name ...)` stores ID and NAME.
    let got = matched("t", &cols(&["name", "id"]), &have_named(&["ID", "NAME"])).unwrap();
    assert_eq!(got, ["NAME", "ID"]);
    // Quoted mixed case beside it: exact wins, else it is ambiguous.
    let both = have_named(&["ID", "Id"]);
    assert_eq!(matched("t", &cols(&["Id"]), &both).unwrap(), ["Id"]);
    let e = detail(matched("t", &cols(&["id"]), &both).unwrap_err());
    assert!(
        e.starts_with("\"id\" matches several columns ignoring case"),
        "{e}"
    );
    let e = detail(matched("t", &cols(&["id", "x"]), &have_named(&["ID"])).unwrap_err());
    assert_eq!(e, "missing column(s) x (the table has ID)");
}

#[test]
fn names_an_oracle_table_cannot_hold() {
    let many: Vec<String> = (1..=1001).map(|i| format!("C{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = detail(columns::check_names(&LIMITS, "t", &cols(&many)).unwrap_err());
    assert!(
        e == "1001 columns, more than the 1000 Oracle allows in one table (from \"C1001\" on)",
        "{e}"
    );
    assert!(columns::check_names(&LIMITS, "t", &cols(&many[..1000])).is_ok());
    let e = detail(columns::check_names(&LIMITS, "t", &cols(&["a\"b"])).unwrap_err());
    assert_eq!(e, "\"a\\\"b\" holds '\"', which Oracle names cannot hold");
    let long = "x".repeat(129);
    let e = detail(columns::check_names(&LIMITS, "t", &cols(&[&long])).unwrap_err());
    assert!(
        e.ends_with("is 129 bytes long; Oracle names are at most 128 bytes"),
        "{e}"
    );
    // Quoted names keep their case: "a" and "A" are two columns.
    assert!(columns::check_names(&LIMITS, "t", &cols(&["a", "A"])).is_ok());
    // The ledger's target is the name as configured.
    assert_eq!(LIMITS.identity("Orders"), "Orders");
}
