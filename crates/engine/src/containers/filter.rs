//! `ps --filter` with Docker's rules: values of one key are ORed, keys are ANDed. Image names
//! (`ancestor=`) resolve to image IDs once, when the filter is parsed.

use crate::images::query::lookup;
use oci_model::{Error, Result};
use store::Store;
use store::metadata::{ContainerRecord, ContainerState};

/// Parsed `key=value` filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    status: Vec<ContainerState>,
    /// The name as given, and the image ID it resolves to (if it does).
    ancestor: Vec<(String, Option<String>)>,
    name: Vec<String>,
    id: Vec<String>,
    /// `key` or `key=value`.
    label: Vec<String>,
}

impl Filter {
    /// Parses `filters` (keys `status`, `ancestor`, `name`, `id`, `label`, any case).
    pub fn parse(store: &Store, filters: &[String]) -> Result<Filter> {
        let mut f = Filter::default();
        let mut ancestors = Vec::new();
        for given in filters {
            let (k, v) = given
                .split_once('=')
                .ok_or_else(|| Error::invalid("bad format of filter (expected name=value)"))?;
            let k = k.trim().to_ascii_lowercase();
            match k.as_str() {
                "status" => f.status.push(
                    ContainerState::parse(v)
                        .ok_or_else(|| Error::invalid(format!("invalid filter 'status={v}'")))?,
                ),
                "ancestor" => ancestors.push(v.to_string()),
                "name" => f.name.push(v.to_string()),
                "id" => f.id.push(v.to_string()),
                "label" => f.label.push(v.to_string()),
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
        }
        f.ancestor = ancestors
            .into_iter()
            .map(|v| {
                let id = lookup::find_image(store.db(), &v).ok();
                (v, id)
            })
            .collect();
        Ok(f)
    }

    pub fn matches(&self, c: &ContainerRecord) -> bool {
        let any = |values: &[String], f: &dyn Fn(&str) -> bool| {
            values.is_empty() || values.iter().any(|v| f(v))
        };
        (self.status.is_empty() || self.status.contains(&c.state))
            && any(&self.name, &|v| c.name.contains(v.trim_start_matches('/')))
            && any(&self.id, &|v| c.id.starts_with(v))
            && any(&self.label, &|v| {
                let labels = &c.config.labels;
                match v.split_once('=') {
                    Some((k, val)) => labels.get(k).is_some_and(|l| l == val),
                    None => labels.contains_key(v),
                }
            })
            && (self.ancestor.is_empty()
                || self.ancestor.iter().any(|(given, id)| {
                    c.image_ref == *given || id.as_deref() == Some(c.image_id.as_str())
                }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::config::Config;

    fn rec(name: &str, state: ContainerState, labels: &[(&str, &str)]) -> ContainerRecord {
        let mut c = ContainerRecord {
            id: format!("{name:0<64}"),
            name: name.into(),
            image_id: "sha256:x".into(),
            image_ref: "busybox".into(),
            command: vec!["sh".into()],
            created_unix: 1,
            state,
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            config: Default::default(),
        };
        for (k, v) in labels {
            c.config.labels.insert(k.to_string(), v.to_string());
        }
        c
    }

    #[test]
    fn values_of_a_key_are_ored_and_keys_anded() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Config::default()).unwrap();
        let parse = |f: &[&str]| {
            Filter::parse(&store, &f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        let web = rec("web", ContainerState::Running, &[("tier", "front")]);
        let db = rec("db", ContainerState::Exited, &[("tier", "back")]);

        let f = parse(&["status=running", "status=exited", "label=tier=back"]).unwrap();
        assert!(!f.matches(&web) && f.matches(&db));
        let f = parse(&["NAME=/we", "ancestor=busybox"]).unwrap();
        assert!(f.matches(&web) && !f.matches(&db));
        let f = parse(&["label=tier", "id=db"]).unwrap();
        assert!(!f.matches(&web) && f.matches(&db));
        assert!(parse(&[]).unwrap().matches(&web));

        assert_eq!(
            parse(&["status=sleeping"]).unwrap_err().message,
            "invalid filter 'status=sleeping'"
        );
        assert_eq!(
            parse(&["size=1"]).unwrap_err().message,
            "invalid filter 'size'"
        );
        assert!(parse(&["name"]).is_err());
    }
}
