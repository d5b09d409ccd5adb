//! The distribution spec's error body: `{"errors":[{"code","message","detail"}]}` with the
//! spec's codes ([`ErrorCode`], shared with the client in `oci-model`) and their HTTP statuses.
//! Every handler returns `Result<_, ApiError>`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oci_model::ErrorCode;
use serde_json::json;

/// One error response: a code, a message, optional detail, an optional status override
/// (e.g. 413 for an oversized manifest) and extra headers (`WWW-Authenticate`). Kept small
/// (boxed detail, a list of headers): handlers return it in every `Result`.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<Box<serde_json::Value>>,
    pub status: Option<StatusCode>,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> ApiError {
        ApiError {
            code,
            message: code.default_message().to_string(),
            detail: None,
            status: None,
            headers: Vec::new(),
        }
    }

    pub fn message(mut self, message: impl Into<String>) -> ApiError {
        self.message = message.into();
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> ApiError {
        self.detail = Some(Box::new(detail));
        self
    }

    pub fn status(mut self, status: StatusCode) -> ApiError {
        self.status = Some(status);
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name, value));
        self
    }

    pub fn http_status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.status()).expect("error codes carry valid statuses")
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut entry = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(detail) = &self.detail {
            entry["detail"] = (**detail).clone();
        }
        let body = json!({ "errors": [entry] }).to_string();
        let mut resp = (self.http_status(), body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        );
        headers.extend(self.headers);
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_status_follow_the_spec() {
        let resp = ApiError::new(ErrorCode::DigestInvalid).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let resp = ApiError::new(ErrorCode::ManifestUnknown).into_response();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let too_big =
            ApiError::new(ErrorCode::ManifestInvalid).status(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_big.http_status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
