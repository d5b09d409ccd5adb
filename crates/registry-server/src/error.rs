//! The distribution spec's error body: `{"errors":[{"code","message","detail"}]}` with the
//! spec's codes and their HTTP statuses. Every handler returns `Result<_, ApiError>`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The spec's error codes (distribution-spec v1.1 "Error Codes"), plus Docker's `TOOMANYREQUESTS`
/// and `UNAVAILABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    RangeInvalid,
    Unavailable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::Unavailable => "UNAVAILABLE",
        }
    }

    /// The status distribution (the reference implementation) sends with each code.
    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// distribution's default message for the code.
    pub fn default_message(self) -> &'static str {
        match self {
            Code::BlobUnknown => "blob unknown to registry",
            Code::BlobUploadInvalid => "blob upload invalid",
            Code::BlobUploadUnknown => "blob upload unknown to registry",
            Code::DigestInvalid => "provided digest did not match uploaded content",
            Code::ManifestBlobUnknown => {
                "manifest references a manifest or blob unknown to registry"
            }
            Code::ManifestInvalid => "manifest invalid",
            Code::ManifestUnknown => "manifest unknown",
            Code::NameInvalid => "invalid repository name",
            Code::NameUnknown => "repository name not known to registry",
            Code::SizeInvalid => "provided length did not match content length",
            Code::Unauthorized => "authentication required",
            Code::Denied => "requested access to the resource is denied",
            Code::Unsupported => "The operation is unsupported.",
            Code::TooManyRequests => "too many requests",
            Code::RangeInvalid => "invalid content range",
            Code::Unavailable => "service unavailable",
        }
    }
}

/// One error response: a code, a message, optional detail, an optional status override
/// (e.g. 413 for an oversized manifest) and extra headers (`WWW-Authenticate`).
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub detail: Option<serde_json::Value>,
    pub status: Option<StatusCode>,
    pub headers: HeaderMap,
}

impl ApiError {
    pub fn new(code: Code) -> ApiError {
        ApiError {
            code,
            message: code.default_message().to_string(),
            detail: None,
            status: None,
            headers: HeaderMap::new(),
        }
    }

    pub fn message(mut self, message: impl Into<String>) -> ApiError {
        self.message = message.into();
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> ApiError {
        self.detail = Some(detail);
        self
    }

    pub fn status(mut self, status: StatusCode) -> ApiError {
        self.status = Some(status);
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.headers.insert(name, value);
        self
    }

    pub fn http_status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<Code> for ApiError {
    fn from(code: Code) -> ApiError {
        ApiError::new(code)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut entry = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(detail) = &self.detail {
            entry["detail"] = detail.clone();
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
        let resp = ApiError::new(Code::DigestInvalid).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let resp = ApiError::new(Code::ManifestUnknown).into_response();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let too_big = ApiError::new(Code::ManifestInvalid).status(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_big.http_status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
