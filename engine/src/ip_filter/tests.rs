use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn load(builder: &mut IpFilterBuilder, text: &str) -> ListReport {
    let mut list = builder.list();
    for line in text.split('\n') {
        list.push_line(line.as_bytes());
    }
    list.finish()
}

#[test]
fn a_mixed_list_loads_and_reports_its_bad_lines_by_number() {
    let text = "# ccbt test list\r\n\
        001.002.003.000 - 001.002.003.255 , 000 , eMule line\r\n\
        Some Org, Inc:5.6.7.0-5.6.7.9\n\
        10.0.0.0/8\n\
        this line is garbage\n\
        \n\
        2001:db8::/32\n\
        9.9.9.9\n\
        1.2.3.300 - 1.2.4.0 , 0 , bad octet\n\
        fe80::1 - fe80::9";
    let mut b = IpFilterBuilder::new();
    let report = load(&mut b, text);
    assert_eq!(report.lines, 10);
    assert_eq!(report.blocked, 6);
    assert_eq!(report.malformed, 2);
    assert_eq!(report.examples.len(), 2);
    assert_eq!(report.examples[0].line, 5);
    assert_eq!(report.examples[0].error, LineError::BadAddress);
    assert_eq!(report.examples[0].text, "this line is garbage");
    assert_eq!(report.examples[1].line, 9);
    assert_eq!(
        report.formats_seen().collect::<Vec<_>>(),
        vec![("emule", 1), ("p2p", 1), ("cidr", 2), ("range", 1), ("single", 1)]
    );
    let f = b.build();
    for blocked in [
        "1.2.3.0",
        "1.2.3.255",
        "5.6.7.5",
        "10.200.0.1",
        "9.9.9.9",
        "2001:db8::77",
        "fe80::5",
    ] {
        assert!(f.is_blocked(ip(blocked)), "{blocked}");
    }
    for open in [
        "1.2.4.0",
        "5.6.7.10",
        "11.0.0.0",
        "9.9.9.8",
        "2001:db9::",
        "fe80::a",
        "127.0.0.1",
    ] {
        assert!(!f.is_blocked(ip(open)), "{open}");
    }
    assert_eq!(f.ranges_v4(), 4);
    assert_eq!(f.ranges_v6(), 2);
}

#[test]
fn ipv4_mapped_addresses_are_looked_up_as_ipv4() {
    let mut b = IpFilterBuilder::new();
    load(&mut b, "127.0.0.2");
    let f = b.build();
    let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped());
    assert!(f.is_blocked(mapped));
    assert!(!f.is_blocked(IpAddr::V6(Ipv6Addr::LOCALHOST)));
}

#[test]
fn emule_allow_levels_win_over_any_list() {
    let mut b = IpFilterBuilder::new();
    let first = load(&mut b, "10.0.0.0 - 10.255.255.255 , 0 , all of 10/8");
    let second = load(
        &mut b,
        "010.001.000.000 - 010.001.255.255 , 200 , our office\n10.2.0.0/16",
    );
    assert_eq!((first.blocked, first.allowed), (1, 0));
    assert_eq!((second.blocked, second.allowed), (1, 1));
    let f = b.build();
    assert!(f.is_blocked(ip("10.0.0.1")));
    assert!(!f.is_blocked(ip("10.1.2.3")), "allowed by level 200");
    assert!(f.is_blocked(ip("10.2.0.1")));
    assert_eq!(f.ranges_v4(), 2, "10/8 with a hole");
}

#[test]
fn only_the_first_few_malformed_lines_are_kept() {
    let mut b = IpFilterBuilder::new();
    let text: Vec<String> = (0..50).map(|i| format!("bad line {i}")).collect();
    let report = load(&mut b, &text.join("\n"));
    assert_eq!(report.malformed, 50);
    assert_eq!(report.examples.len(), MALFORMED_EXAMPLES);
    assert_eq!(report.examples[4].line, 5);
    assert!(b.build().is_empty());
}

#[test]
fn an_overlong_line_is_reported_not_read() {
    let mut b = IpFilterBuilder::new();
    let mut list = b.list();
    list.push_line(b"1.1.1.1");
    list.push_overlong_line(b"1.2.3.4 - 1.2.3.5 , 0 , a very long description");
    let report = list.finish();
    assert_eq!(report.malformed, 1);
    assert_eq!(report.examples[0].line, 2);
    assert_eq!(report.examples[0].error, LineError::TooLong);
    assert!(!b.build().is_blocked(ip("1.2.3.4")));
}

#[derive(Clone, Debug)]
enum ModelLine {
    Block(u32, u32),
    Allow(u32, u32),
    Garbage,
}

/// Addresses of 10.0.0.x with x < 64: random lines overlap and touch often.
fn model_line() -> impl Strategy<Value = ModelLine> {
    prop_oneof![
        4 => (0u32..64, 0u32..8).prop_map(|(s, l)| ModelLine::Block(s, s + l)),
        1 => (0u32..64, 0u32..8).prop_map(|(s, l)| ModelLine::Allow(s, s + l)),
        1 => Just(ModelLine::Garbage),
    ]
}

fn render(line: &ModelLine, style: usize) -> String {
    let a = |x: u32| Ipv4Addr::from(0x0a00_0000 + x);
    match (line, style % 3) {
        (ModelLine::Block(s, e), 0) => format!("010.000.000.{s:03} - {} , 050 , block", a(*e)),
        (ModelLine::Block(s, e), 1) => format!("model:{}-{}", a(*s), a(*e)),
        (ModelLine::Block(s, e), _) => format!("{}-{}", a(*s), a(*e)),
        (ModelLine::Allow(s, e), _) => format!("{} - {} , 255 , allow", a(*s), a(*e)),
        (ModelLine::Garbage, _) => "10.0.0 - oops".to_string(),
    }
}

proptest! {
    #[test]
    fn the_filter_equals_a_naive_model(lines in proptest::collection::vec((model_line(), 0usize..3), 0..40)) {
        let text: Vec<String> = lines.iter().map(|(l, style)| render(l, *style)).collect();
        let mut b = IpFilterBuilder::new();
        let report = load(&mut b, &text.join("\n"));
        let garbage = lines.iter().filter(|(l, _)| matches!(l, ModelLine::Garbage)).count() as u64;
        prop_assert_eq!(report.malformed, garbage);
        let f = b.build();
        prop_assert!(f.v4_ranges().is_canonical());
        for x in 0u32..80 {
            let blocked = lines.iter().any(|(l, _)| matches!(l, ModelLine::Block(s, e) if *s <= x && x <= *e));
            let allowed = lines.iter().any(|(l, _)| matches!(l, ModelLine::Allow(s, e) if *s <= x && x <= *e));
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + x));
            prop_assert_eq!(f.is_blocked(addr), blocked && !allowed, "10.0.0.{}", x);
        }
    }

    #[test]
    fn no_line_makes_the_parser_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_line(&bytes);
    }
}
