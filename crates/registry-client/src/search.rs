//! Listing what a registry holds: Docker Hub's search API (`GET /v1/search?q=&n=`, which Docker
//! Hub and strata's own registry serve) and the distribution spec's catalog
//! (`GET /v2/_catalog`, paginated with `Link` headers), which most other registries offer instead.
//!
//! Both go through the client's usual authentication: anonymous first, then whatever the
//! registry's challenge asks for, with the scopes Docker uses (`registry:catalog:search` for
//! search, `registry:catalog:*` for the catalog).

use super::transport::Endpoint;
use super::{RegistryClient, RegistryError, Request, next_page};
use reqwest::Method;
use serde::Deserialize;

/// Largest search answer or catalog page read.
const MAX_LISTING_PAGE: u64 = 8 << 20;
/// Catalog pages followed at most.
const MAX_CATALOG_PAGES: usize = 100_000;
/// Repositories asked for per catalog page.
const CATALOG_PAGE_SIZE: u32 = 1000;

/// One repository in a search answer (`results[]` of Docker Hub's `/v1/search`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub star_count: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_official: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_automated: bool,
}

/// A `/v1/search` answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchResults {
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub num_results: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<SearchResult>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Whether a status answering `/v1/search` means "this registry has no search API".
fn search_unsupported(status: u16) -> bool {
    matches!(status, 404 | 405 | 501)
}

impl RegistryClient {
    /// Where the v1 search API of `domain` lives: Docker Hub's index host for `docker.io`, the
    /// registry itself otherwise (plain HTTP under the same rules as the v2 API).
    fn search_endpoint(&self, domain: &str) -> Endpoint {
        let mut ep = self.endpoint(domain);
        if ep.domain == "docker.io" || ep.domain == "index.docker.io" {
            ep.domain = "docker.io".into();
            ep.host = "index.docker.io".into();
            ep.scheme = "https";
        }
        ep
    }

    /// Search answers are filtered by what the caller may pull, and a registry that lets anyone
    /// search never challenges: with stored credentials for `ep`, its challenge is learnt up front
    /// (`GET /v2/`, best effort), so the search itself goes out authenticated — as Docker's daemon
    /// sends a logged-in user's credentials with every search. Docker Hub's index is left alone.
    async fn prime_auth(&self, ep: &Endpoint) {
        if ep.host == "index.docker.io" || self.inner.auth.challenge(&ep.host).is_some() {
            return;
        }
        if !matches!(self.credentials(&ep.domain).await, Ok(Some(_))) {
            return;
        }
        let ping = Request {
            method: Method::GET,
            url: format!("{}://{}/v2/", ep.scheme, ep.host),
            ..Default::default()
        };
        let _ = self.execute(ep, &ping, Some(MAX_LISTING_PAGE)).await;
    }

    /// `GET /v1/search?q=<query>&n=<limit>` on the registry of `domain`. `Ok(None)` when the
    /// registry has no search API (404, 405, 501); any other failure is an error, a non-2xx
    /// answer reading as Docker's `unexpected status code <n>`.
    pub async fn search_v1(
        &self,
        domain: &str,
        query: &str,
        limit: u32,
    ) -> Result<Option<SearchResults>, RegistryError> {
        let ep = self.search_endpoint(domain);
        self.prime_auth(&ep).await;
        let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let url = format!("{}://{}/v1/search?q={q}&n={limit}", ep.scheme, ep.host);
        let req = Request {
            method: Method::GET,
            url,
            accept: Some("application/json"),
            scope: Some("registry:catalog:search".into()),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(MAX_LISTING_PAGE)).await?;
        let status = ans.status.as_u16();
        if search_unsupported(status) {
            return Ok(None);
        }
        if !ans.status.is_success() {
            let mut err = ans.error(None);
            err.code = None;
            err.message = format!("unexpected status code {status}");
            err.detail = None;
            return Err(err);
        }
        let results: SearchResults = serde_json::from_slice(&ans.body).map_err(|e| {
            RegistryError::protocol(&ans.url, format!("invalid search response: {e}"))
        })?;
        Ok(Some(results))
    }

    /// Every repository name of the registry of `domain`, from `GET /v2/_catalog`, following
    /// the `Link` pages.
    pub async fn catalog(&self, domain: &str) -> Result<Vec<String>, RegistryError> {
        let ep = self.endpoint(domain);
        let mut url = ep.url(&format!("_catalog?n={CATALOG_PAGE_SIZE}"));
        let mut names = Vec::new();
        for _page in 0..MAX_CATALOG_PAGES {
            let req = Request {
                method: Method::GET,
                url: url.clone(),
                accept: Some("application/json"),
                scope: Some("registry:catalog:*".into()),
                ..Default::default()
            };
            let ans = self.execute(&ep, &req, Some(MAX_LISTING_PAGE)).await?;
            if !ans.status.is_success() {
                return Err(ans.error(None));
            }
            #[derive(Deserialize)]
            struct Page {
                #[serde(default, deserialize_with = "null_as_default")]
                repositories: Vec<String>,
            }
            let page: Page = serde_json::from_slice(&ans.body).map_err(|e| {
                RegistryError::protocol(&ans.url, format!("invalid catalog response: {e}"))
            })?;
            names.extend(page.repositories);
            match next_page(&url, &ans)? {
                Some(next) => url = next,
                None => return Ok(names),
            }
        }
        Err(RegistryError::protocol(&url, "too many catalog pages"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_answers_tolerate_nulls_and_missing_fields() {
        let r: SearchResults = serde_json::from_str(
            r#"{"query":"a","num_results":2,"results":[
                {"name":"a","description":null,"star_count":3,"is_official":true},
                {"name":"b/a","is_automated":true,"extra":1}]}"#,
        )
        .unwrap();
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[0].description, "");
        assert_eq!(r.results[0].star_count, 3);
        assert!(r.results[0].is_official);
        assert!(r.results[1].is_automated);
        let r: SearchResults = serde_json::from_str(r#"{"results":null}"#).unwrap();
        assert!(r.results.is_empty());
    }

    #[test]
    fn search_endpoint_of_docker_hub_is_the_index() {
        let c = RegistryClient::new(Default::default()).unwrap();
        let ep = c.search_endpoint("docker.io");
        assert_eq!((ep.scheme, ep.host.as_str()), ("https", "index.docker.io"));
        assert_eq!(ep.domain, "docker.io");
        let ep = c.search_endpoint("127.0.0.1:5000");
        assert_eq!((ep.scheme, ep.host.as_str()), ("http", "127.0.0.1:5000"));
    }
}
