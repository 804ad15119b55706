//! Countries (ISO 3166-1) and their subdivisions (ISO 3166-2), from the
//! `rust_iso3166` data crate: a country or province given as a name or a
//! code becomes its code, and a code its name.

use rust_iso3166::{CountryCode, iso3166_2};
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// The names customers and Shopify use where ISO's formal name is long
/// (`United States of America`): shown instead, and accepted as well.
const COMMON_NAMES: &[(&str, &str)] = &[
    ("BN", "Brunei"),
    ("BO", "Bolivia"),
    ("CD", "Congo - Kinshasa"),
    ("CG", "Congo - Brazzaville"),
    ("CZ", "Czech Republic"),
    ("FM", "Micronesia"),
    ("GB", "United Kingdom"),
    ("IR", "Iran"),
    ("KP", "North Korea"),
    ("KR", "South Korea"),
    ("LA", "Laos"),
    ("MD", "Moldova"),
    ("NL", "Netherlands"),
    ("PS", "Palestinian Territories"),
    ("RU", "Russia"),
    ("SY", "Syria"),
    ("TW", "Taiwan"),
    ("TZ", "Tanzania"),
    ("US", "United States"),
    ("VE", "Venezuela"),
    ("VG", "British Virgin Islands"),
    ("VI", "U.S. Virgin Islands"),
    ("VN", "Vietnam"),
];

/// Lowercase, without accents or punctuation runs: `Québec` = `quebec`.
fn fold(s: &str) -> String {
    s.trim()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn by_alpha2(code: &str) -> Option<CountryCode> {
    rust_iso3166::from_alpha2(&code.to_ascii_uppercase())
}

/// The alpha-2 code of a country given as its alpha-2 or alpha-3 code,
/// its ISO name (with or without the parenthesis), or its common name.
pub fn country_code(given: &str) -> Option<&'static str> {
    let given = given.trim();
    let found = match given.len() {
        2 => by_alpha2(given),
        3 => rust_iso3166::from_alpha3(&given.to_ascii_uppercase()),
        _ => None,
    };
    if let Some(c) = found {
        return Some(c.alpha2);
    }
    let want = fold(given);
    if let Some((code, _)) = COMMON_NAMES.iter().find(|(_, name)| fold(name) == want) {
        return Some(code);
    }
    rust_iso3166::ALL
        .iter()
        .find(|c| {
            let short = c.name.split(" (").next().unwrap_or(c.name);
            fold(c.name) == want || fold(short) == want
        })
        .map(|c| c.alpha2)
}

/// The name a country is shown by.
pub fn country_name(alpha2: &str) -> Option<&'static str> {
    if let Some((_, name)) = COMMON_NAMES.iter().find(|(code, _)| *code == alpha2) {
        return Some(name);
    }
    by_alpha2(alpha2).map(|c| c.name)
}

/// Whether the country's provinces are checked (it has ISO 3166-2
/// subdivisions).
pub fn has_subdivisions(alpha2: &str) -> bool {
    by_alpha2(alpha2).is_some_and(|c| c.subdivisions().is_some_and(|s| !s.is_empty()))
}

/// The subdivision code, without the country (`ON`), of a province of
/// `alpha2` given as that code, the full code (`CA-ON`) or its name.
pub fn subdivision_code(alpha2: &str, given: &str) -> Option<String> {
    let country = by_alpha2(alpha2)?;
    let given = given.trim();
    let upper = given.to_uppercase();
    let full = match upper.split_once('-') {
        Some((c, _)) if c == country.alpha2 => upper.clone(),
        _ => format!("{}-{upper}", country.alpha2),
    };
    if let Some(s) = iso3166_2::from_code(&full)
        && s.country_code == country.alpha2
    {
        return Some(s.region_code.to_string());
    }
    let want = fold(given);
    country
        .subdivisions()?
        .iter()
        .find(|s| fold(s.name) == want)
        .map(|s| s.region_code.to_string())
}

/// The name of a province stored as its code.
pub fn subdivision_name(alpha2: &str, code: &str) -> Option<&'static str> {
    iso3166_2::from_code(&format!("{alpha2}-{code}")).map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_by_code_or_name() {
        for given in ["CA", "ca", "CAN", "Canada", " canada "] {
            assert_eq!(country_code(given), Some("CA"), "{given}");
        }
        for given in ["US", "USA", "United States", "United States of America"] {
            assert_eq!(country_code(given), Some("US"), "{given}");
        }
        assert_eq!(country_code("Bolivia"), Some("BO"));
        assert_eq!(country_code("Korea (Republic of)"), Some("KR"));
        assert_eq!(country_code("South Korea"), Some("KR"));
        assert_eq!(country_code("Côte d'Ivoire"), Some("CI"));
        assert_eq!(country_code("cote d'ivoire"), Some("CI"));
        for bad in ["", "XX", "Atlantis", "C", "CANADA!"] {
            assert_eq!(country_code(bad), None, "{bad}");
        }
        assert_eq!(country_name("US"), Some("United States"));
        assert_eq!(country_name("CA"), Some("Canada"));
        assert_eq!(country_name("XX"), None);
    }

    #[test]
    fn provinces_of_their_own_country_only() {
        for given in ["ON", "on", "CA-ON", "Ontario", "ontario"] {
            assert_eq!(
                subdivision_code("CA", given).as_deref(),
                Some("ON"),
                "{given}"
            );
        }
        assert_eq!(subdivision_code("CA", "Québec").as_deref(), Some("QC"));
        assert_eq!(subdivision_code("US", "California").as_deref(), Some("CA"));
        assert_eq!(subdivision_code("AU", "NSW").as_deref(), Some("NSW"));
        assert_eq!(subdivision_code("DE", "Bayern").as_deref(), Some("BY"));
        assert_eq!(subdivision_code("DE", "thuringen").as_deref(), Some("TH"));
        assert_eq!(subdivision_code("GB", "England").as_deref(), Some("ENG"));
        // Another country's province, or none at all.
        assert_eq!(subdivision_code("CA", "California"), None);
        assert_eq!(subdivision_code("CA", "US-CA"), None);
        assert_eq!(subdivision_code("US", "Ontario"), None);
        assert_eq!(subdivision_code("CA", "Atlantis"), None);
        assert!(has_subdivisions("US") && has_subdivisions("GB"));
        assert_eq!(subdivision_name("CA", "ON"), Some("Ontario"));
    }
}
