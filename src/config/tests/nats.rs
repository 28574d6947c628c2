//! `kind = "nats"`: the columns a message feeds (`from = "header:NAME"`,
//! `nats:subject`, `nats:sequence`, `nats:published`) and their errors.

use super::Fixture;
use crate::config::{MessageField, NatsSource, Source};
use crate::format::Field;

fn nats(format: &str, columns: &str) -> String {
    format!(
        "[sinks.local]\nkind = \"sqlite\"\npath = \"db/test.db\"\n\n[jobs.ev]\nsink = \"local\"\n\
         \n[jobs.ev.source]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n\
         stream = \"EVENTS\"\nconsumer = \"loader\"\n\n[jobs.ev.format]\n{format}\n{columns}"
    )
}

fn column(name: &str, ty: &str, from: Option<&str>) -> String {
    let from = from.map(|f| format!("from = {f:?}\n")).unwrap_or_default();
    format!("[[jobs.ev.columns]]\nname = \"{name}\"\ntype = \"{ty}\"\n{from}\n")
}

fn source(fx: &Fixture, text: &str) -> NatsSource {
    match &fx.ok(text).jobs["ev"].source {
        Source::Nats(n) => n.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn columns_take_headers_subject_sequence_and_publish_time() {
    let fx = Fixture::new();
    let columns = [
        column("id", "bigint", None),
        column("msg_id", "text", Some("header:Nats-Msg-Id")),
        column("subject", "text", Some("nats:subject")),
        column("seq", "bigint", Some("nats:sequence")),
        column("at", "timestamptz", Some("nats:published")),
        column("body", "text", Some("/body/text")),
    ]
    .concat();
    let n = source(&fx, &nats("kind = \"jsonl\"\n", &columns));
    assert_eq!(
        n.message_fields,
        [
            (1, MessageField::Header("Nats-Msg-Id".into())),
            (2, MessageField::Subject),
            (3, MessageField::Sequence),
            (4, MessageField::Published),
        ]
    );
    assert_eq!(
        n.message_slots(6),
        [None, Some(0), Some(1), Some(2), Some(3), None]
    );
    // A headerless CSV: the message columns take no position.
    let columns = [
        column("subject", "text", Some("nats:subject")),
        column("a", "int", None),
        column("b", "int", Some("2")),
    ]
    .concat();
    let text = nats("kind = \"csv\"\nheader = false\n", &columns);
    let cfg = fx.ok(&text);
    let job = &cfg.jobs["ev"];
    let Source::Nats(n) = &job.source else {
        panic!()
    };
    let cols = job.columns.as_deref().unwrap();
    let layout = job
        .format
        .layout_with_message(cols, None, &n.message_slots(cols.len()))
        .unwrap();
    assert_eq!(
        layout.fields,
        [Field::Message(0), Field::At(0), Field::At(1)]
    );
}

#[test]
fn message_fields_that_do_not_exist_are_refused_with_their_key() {
    let fx = Fixture::new();
    let err = |from: &str| {
        let columns = [
            column("id", "bigint", None),
            column("x", "text", Some(from)),
        ]
        .concat();
        fx.err(&nats("kind = \"jsonl\"\n", &columns))
    };
    let e = err("nats:subjekt");
    assert!(e.contains("jobs.ev.columns[1].from"), "{e}");
    assert!(
        e.contains("nats:subject, nats:sequence, nats:published"),
        "{e}"
    );
    for bad in ["header:", "header:a b", "header:a:b"] {
        let e = err(bad);
        assert!(
            e.contains("a header's name is printable ASCII"),
            "{bad}: {e}"
        );
    }
    // Outside a nats source, `header:x` is a field's name like any other.
    let text = "[sinks.local]\nkind = \"sqlite\"\npath = \"db/test.db\"\n\n[jobs.ev]\n\
                sink = \"local\"\n\n[jobs.ev.source]\nkind = \"stdin\"\n\n[jobs.ev.format]\n\
                kind = \"jsonl\"\n\n"
        .to_string()
        + &column("x", "text", Some("header:x"));
    fx.ok(&text);
}
