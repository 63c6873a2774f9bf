//! Properties of the hostname and scale-grammar parsers over generated input:
//! they never panic, what they accept obeys their grammar and bounds, and
//! what they print reads back as the same value.

use proptest::prelude::*;

use crate::{Hostname, Quantity, ScaleChange, MAX_QUANTITY};

/// A DNS label by RFC 1123: letters, digits and inner dashes, 1 to 63 long.
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
}

/// A name whose last label holds a letter: never an IP literal, so it is
/// a hostname whichever rule the parser has for those.
fn dns_name() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 1..4), "[a-z][a-z0-9]{0,10}").prop_map(|(labels, top)| {
        let mut name = labels.join(".");
        name.push('.');
        name.push_str(&top);
        name
    })
}

/// Text that looks like a hostname: labels, dots, digits, colons, IDNA.
fn hostnameish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("."),
        Just(".."),
        Just("-"),
        Just("*"),
        Just(":"),
        Just("::1"),
        Just("["),
        Just("]"),
        Just("127"),
        Just("0x7f"),
        Just("1"),
        Just("xn--"),
        Just("xn--bcher-kva"),
        Just("bücher"),
        Just("ß"),
        Just("Ⅻ"),
        Just("\u{200d}"),
        Just(" "),
        Just("_"),
        Just("%"),
        Just("example"),
        Just("COM"),
    ];
    prop::collection::vec(prop_oneof![piece.prop_map(str::to_string), label()], 0..12)
        .prop_map(|pieces| pieces.concat())
}

/// Whether `text` is a lowercase DNS name of 2+ labels within the length bounds.
fn is_dns_grammar(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    text.len() <= Hostname::MAX_LEN
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=Hostname::MAX_LABEL_LEN).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn quantity() -> impl Strategy<Value = Quantity> {
    prop_oneof![
        (0..=i64::MAX).prop_map(Quantity::Exactly),
        (0..=i64::MAX).prop_map(Quantity::More),
        (0..=i64::MAX).prop_map(Quantity::Fewer),
    ]
}

/// Text that looks like a scale change: types, signs, numbers, blanks.
fn scaleish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("web"),
        Just("worker"),
        Just("="),
        Just("+"),
        Just("-"),
        Just("0"),
        Just("2"),
        Just("100"),
        Just("101"),
        Just("9223372036854775807"),
        Just("9223372036854775808"),
        Just(" "),
        Just("\t"),
        Just("é"),
        Just("1.5"),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hostname_parsing_never_panics_and_accepts_only_the_dns_grammar(
        text in prop_oneof![hostnameish(), any::<String>()]
    ) {
        if let Ok(hostname) = Hostname::parse(&text) {
            prop_assert!(is_dns_grammar(hostname.as_str()), "{:?} accepted as {:?}", text, hostname);
        }
    }

    #[test]
    fn accepted_hostnames_are_normalised_once_and_for_all(
        text in prop_oneof![dns_name(), hostnameish()],
        trailing_dot in any::<bool>(),
        blanks in "[ \t]{0,2}",
    ) {
        let input = format!("{blanks}{text}{}{blanks}", if trailing_dot { "." } else { "" });
        if let Ok(hostname) = Hostname::parse(&input) {
            prop_assert_eq!(Hostname::parse(hostname.as_str()), Ok(hostname.clone()));
            prop_assert_eq!(Hostname::parse(&hostname.as_str().to_uppercase()), Ok(hostname.clone()));
            prop_assert_eq!(hostname.to_string(), hostname.as_str());
            prop_assert!(hostname.is_within(hostname.as_str()));
        }
    }

    #[test]
    fn dns_names_within_the_bounds_are_accepted_as_their_lowercase(name in dns_name()) {
        let parsed = Hostname::parse(&name);
        if name.len() <= Hostname::MAX_LEN {
            let lowercase = name.to_ascii_lowercase();
            prop_assert_eq!(parsed.map(|hostname| hostname.to_string()), Ok(lowercase));
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn overlong_hostnames_and_labels_are_refused(
        long_label in "[a-z]{64,80}",
        labels in prop::collection::vec("[a-z]{50,63}", 5..7),
    ) {
        let with_long_label = format!("{long_label}.example.com");
        prop_assert!(Hostname::parse(&with_long_label).is_err());
        let long_name = format!("{}.com", labels.join("."));
        prop_assert!(long_name.len() > Hostname::MAX_LEN);
        prop_assert!(Hostname::parse(&long_name).is_err());
    }

    #[test]
    fn scale_parsing_never_panics_and_accepted_changes_print_back(
        text in prop_oneof![scaleish(), any::<String>()]
    ) {
        if let Ok(change) = ScaleChange::parse(&text) {
            prop_assert!(!change.process_type.is_empty());
            prop_assert!(!change.process_type.contains(['=', '+', '-']));
            prop_assert_eq!(ScaleChange::parse(&change.to_string()), Ok(change.clone()));
        }
    }

    #[test]
    fn printed_scale_changes_parse_to_themselves(
        process_type in "[a-z][a-z0-9_]{0,29}",
        quantity in quantity(),
    ) {
        let change = ScaleChange { process_type, quantity };
        prop_assert_eq!(ScaleChange::parse(&change.to_string()), Ok(change));
    }

    #[test]
    fn scaling_never_leaves_zero_to_the_maximum(
        quantity in quantity(),
        current in 0..=MAX_QUANTITY,
    ) {
        let change = ScaleChange { process_type: "web".into(), quantity: quantity.clone() };
        match change.apply(current) {
            Ok(wanted) => prop_assert!((0..=MAX_QUANTITY).contains(&wanted), "{} from {}", wanted, current),
            Err(message) => {
                prop_assert!(message.contains("over the limit"), "{}", message);
                let asked = match quantity {
                    Quantity::Exactly(n) => n,
                    Quantity::More(n) => current.saturating_add(n),
                    Quantity::Fewer(_) => unreachable!("fewer never exceeds the current quantity"),
                };
                prop_assert!(asked > MAX_QUANTITY);
            }
        }
    }
}
