//! An `f64` field that may be infinite or NaN, in JSON: a number when it is
//! finite, else the string `"inf"`, `"-inf"` or `"NaN"`. JSON has no such
//! numbers and serde_json writes them as `null`, which reads back as an
//! error (or, in a summary, loses what the value was): an AIS band that
//! reaches zero weight has a lower end of minus infinity.
//!
//! `#[serde(with = "crate::run_dir::json_float")]` on the field.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if *value > 0.0 {
        serializer.serialize_str("inf")
    } else {
        serializer.serialize_str("-inf")
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }
    match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(value) => Ok(value),
        NumberOrText::Text(text) => match text.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            other => Err(serde::de::Error::custom(format!(
                "expected a number, \"inf\", \"-inf\" or \"NaN\", found \"{other}\""
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Band {
        #[serde(with = "super")]
        low: f64,
    }

    #[test]
    fn every_float_reads_back_as_written() {
        for value in [-1.5, 0.0, 261.67, f64::NEG_INFINITY, f64::INFINITY] {
            let text = serde_json::to_string(&Band { low: value }).unwrap();
            let back: Band = serde_json::from_str(&text).unwrap();
            assert_eq!(back.low, value, "{text}");
        }
        let nan = serde_json::to_string(&Band { low: f64::NAN }).unwrap();
        assert_eq!(nan, r#"{"low":"NaN"}"#);
        assert!(serde_json::from_str::<Band>(&nan).unwrap().low.is_nan());
        assert_eq!(
            serde_json::to_string(&Band {
                low: f64::NEG_INFINITY
            })
            .unwrap(),
            r#"{"low":"-inf"}"#
        );
    }

    #[test]
    fn other_text_and_null_are_errors_naming_what_was_found() {
        let error = serde_json::from_str::<Band>(r#"{"low":"minus"}"#).unwrap_err();
        assert!(error.to_string().contains("\"minus\""), "{error}");
        assert!(serde_json::from_str::<Band>(r#"{"low":null}"#).is_err());
    }
}
