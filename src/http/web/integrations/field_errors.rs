//! The edit form's messages, each by its field, from the form's own reading of header lines
//! and from the API's validation.

use serde_json::json;

use crate::alerts::webhook::Method;

/// The webhook fields the API names in its messages (`url_down: Enter a valid URL.`).
const WEBHOOK_FIELDS: [&str; 8] = [
    "method_down",
    "url_down",
    "body_down",
    "headers_down",
    "method_up",
    "url_up",
    "body_up",
    "headers_up",
];

/// Messages by field name (`url_down`, `address`, …; `form` for the form as a whole).
#[derive(Debug, Default)]
pub(super) struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    /// Keeps the first message of each field.
    pub(super) fn add(&mut self, field: &str, message: String) {
        if self.get(field).is_none() {
            self.0.push((field.to_owned(), message));
        }
    }

    pub(super) fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The message of a webhook direction's field, e.g. `of("url", "down")`.
    pub(super) fn of(&self, field: &str, key: &str) -> Option<&str> {
        self.get(&format!("{field}_{key}"))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Puts an API validation message (`json validation error: url_down: Enter a valid
    /// URL.`) by its field. `methods` are the webhook methods sent, by field name.
    pub(super) fn place(&mut self, message: &str, methods: [(&str, &str); 2]) {
        let message = message.trim_start_matches("json validation error: ");
        if let Some(detail) = message
            .strip_prefix("webhook: ")
            .or_else(|| message.strip_prefix("email: "))
        {
            // Settings of the wrong shape. The form sends every value as a string, so only a
            // method can be wrong here; the API's own `Method` says which.
            let mut placed = false;
            for (field, method) in methods {
                if serde_json::from_value::<Method>(json!(method)).is_err() {
                    let text = if method.is_empty() {
                        "This field is required.".to_owned()
                    } else {
                        format!(
                            "Select a valid choice. {method} is not one of the available choices."
                        )
                    };
                    self.add(field, text);
                    placed = true;
                }
            }
            if !placed {
                self.add("form", detail.to_owned());
            }
            return;
        }
        if message.starts_with("name ") {
            let text = if message.ends_with("too long") {
                "Ensure this value has at most 100 characters."
            } else {
                message
            };
            self.add("name", text.to_owned());
            return;
        }
        match message.split_once(": ") {
            Some(("value", text)) => self.add("address", text.to_owned()),
            Some((field, text)) if WEBHOOK_FIELDS.contains(&field) => {
                self.add(field, text.to_owned());
            }
            _ => self.add("form", message.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHODS: [(&str, &str); 2] = [("method_down", "GET"), ("method_up", "DELETE")];

    fn placed(message: &str) -> FieldErrors {
        let mut errors = FieldErrors::default();
        errors.place(message, METHODS);
        errors
    }

    #[test]
    fn a_bad_method_is_found_by_the_apis_own_type() {
        let errors = placed("json validation error: webhook: unknown variant `DELETE`");
        assert!(
            errors
                .get("method_up")
                .is_some_and(|m| m.contains("DELETE"))
        );
        assert_eq!(errors.get("method_down"), None);
        assert_eq!(errors.get("form"), None);
    }

    #[test]
    fn api_messages_land_by_their_field() {
        let errors = placed(
            "json validation error: headers_down: Header names must not contain special characters.",
        );
        assert_eq!(
            errors.of("headers", "down"),
            Some("Header names must not contain special characters.")
        );
        let errors = placed("json validation error: value: Enter a valid email address.");
        assert_eq!(errors.get("address"), Some("Enter a valid email address."));
        let errors = placed("json validation error: name is too long");
        assert!(errors.get("name").is_some());
        let errors = placed("json validation error: something else");
        assert_eq!(errors.get("form"), Some("something else"));
    }

    #[test]
    fn the_first_message_of_a_field_is_kept() {
        let mut errors = FieldErrors::default();
        errors.add("url_down", "first".to_owned());
        errors.add("url_down", "second".to_owned());
        assert_eq!(errors.get("url_down"), Some("first"));
    }
}
