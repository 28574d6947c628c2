//! JSON Pointer syntax (RFC 6901) and lookups inside checked records.

use crate::format::jsonl::pointer::{get, parse, show};
use crate::format::jsonl::strict;

fn tokens(p: &str) -> Vec<String> {
    parse(p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

#[test]
fn syntax() {
    assert_eq!(tokens(""), Vec::<String>::new());
    assert_eq!(tokens("/"), vec![""]);
    assert_eq!(tokens("/user/id"), vec!["user", "id"]);
    assert_eq!(tokens("/a~1b/c~0d/~01"), vec!["a/b", "c~d", "~1"]);
    assert_eq!(tokens("/é//x"), vec!["é", "", "x"]);
    for bad in ["user", "/a~", "/a~2", "/~x"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse("user/id").unwrap_err(),
        "\"user/id\" is not a JSON Pointer: it must start with \"/\" (\"/user/id\")"
    );
    for p in ["/user/id", "/a~1b/c~0d/~01", "/", "/x/"] {
        assert_eq!(show(&tokens(p)), p);
    }
}

#[test]
fn lookups() {
    let line =
        br#"{"user":{"id":7,"tags":["a",{"k":null}],"a/b":1,"~":2,"":3,"\u00e9":4},"n":1,"s":"x"}"#;
    let mut members = Vec::new();
    strict::object(line, &mut members).unwrap();
    let at = |p: &str| get(&members, &tokens(p)).map(|v| v.get().to_string());
    assert_eq!(at("/user/id").as_deref(), Some("7"));
    assert_eq!(at("/user/tags/1").as_deref(), Some(r#"{"k":null}"#));
    assert_eq!(at("/user/tags/1/k").as_deref(), Some("null"));
    assert_eq!(at("/user/tags/0").as_deref(), Some(r#""a""#));
    assert_eq!(at("/user/a~1b").as_deref(), Some("1"));
    assert_eq!(at("/user/~0").as_deref(), Some("2"));
    assert_eq!(at("/user/").as_deref(), Some("3"));
    assert_eq!(at("/user/é").as_deref(), Some("4"));
    assert_eq!(at("/n").as_deref(), Some("1"));
    // Absent: no such key or index, a scalar on the way, `-`, leading zeros.
    for p in [
        "/nope",
        "/user/x",
        "/user/tags/2",
        "/user/tags/-",
        "/user/tags/01",
        "/user/tags/+1",
        "/user/tags/",
        "/n/x",
        "/s/0",
        "/user/id/0",
        "/user/tags/99999999999999999999999",
    ] {
        assert_eq!(at(p), None, "{p}");
    }
}
