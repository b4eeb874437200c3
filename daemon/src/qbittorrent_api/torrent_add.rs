//! `torrents/add`: `.torrent` files (multipart `torrents`) and `urls` lines, with
//! qBittorrent's options. Answers `Ok.` when at least one torrent was added and
//! `Fails.` otherwise (415 when a file is not a torrent), as 5.0 does.
//!
//! A `urls` line is a magnet link (handed to the core, which says whether it can
//! take magnets) or an http(s) URL. The daemon does not fetch URLs for this API:
//! such a line fails, as a URL qBittorrent cannot download fails (the *arr apps
//! download `.torrent` files themselves and upload them). A path is not a URL.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::error::{text, QbtError};
use super::form::QbtForm;
use super::torrent_actions::share_limits_patch;
use super::QbtState;
use crate::api_types::{AddRequest, LimitKeyword, LimitSetting, TorrentPatch};
use crate::control::{AddSource, Category, CategoryEdit, ControlRequest};

/// Torrents one request may add at most.
pub const MAX_ADDS_PER_REQUEST: usize = 1000;

/// One thing to add and where it came from (for the log).
struct Candidate {
    source: AddSource,
    origin: String,
}

/// Sorts the `urls` lines: magnets are added, anything else fails.
fn url_candidates(urls: &str) -> (Vec<Candidate>, Vec<String>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for line in super::form::split_list(urls, '\n') {
        if line.len() >= 8 && line[..7].eq_ignore_ascii_case("magnet:") {
            ok.push(Candidate {
                source: AddSource::Magnet(line.clone()),
                origin: line,
            });
        } else if line.starts_with("http://") || line.starts_with("https://") {
            failed.push(format!(
                "{line}: the daemon does not download .torrent URLs; upload the file"
            ));
        } else {
            failed.push(format!("{line}: not a magnet link or an http(s) URL"));
        }
    }
    (ok, failed)
}

/// The add options every candidate gets.
struct AddOptions {
    request: AddRequest,
    patch: TorrentPatch,
}

async fn options(state: &QbtState, form: &QbtForm) -> Result<AddOptions, QbtError> {
    let mut labels = Vec::new();
    let mut download_dir = form
        .get("savepath")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(category) = form.get("category").map(str::trim).filter(|s| !s.is_empty()) {
        let book = state.handle.call(ControlRequest::Categories).await?;
        match book.categories.get(category) {
            Some(c) => {
                if download_dir.is_none() && !c.save_path.is_empty() {
                    download_dir = Some(c.save_path.clone());
                }
            }
            None => {
                // qBittorrent creates a category named on add.
                let edit = CategoryEdit::Create(Category {
                    name: category.to_string(),
                    save_path: String::new(),
                });
                state
                    .handle
                    .call(|reply| ControlRequest::EditCategories { edit, reply })
                    .await?;
            }
        }
        labels.push(category.to_string());
    }
    let tags: Vec<String> = super::form::split_list(form.get("tags").unwrap_or(""), ',').collect();
    if !tags.is_empty() {
        state
            .handle
            .call(|reply| ControlRequest::EditCategories {
                edit: CategoryEdit::CreateTags(tags.clone()),
                reply,
            })
            .await?;
        labels.extend(tags.into_iter().filter(|t| !labels.contains(t)).collect::<Vec<_>>());
    }
    let paused = form.bool("stopped")?.or(form.bool("paused")?).unwrap_or(false);
    let sequential = form.bool("sequentialDownload")?.unwrap_or(false);
    let mut patch = share_limits_patch(
        form.number("ratioLimit")?,
        form.number("seedingTimeLimit")?,
        form.number("inactiveSeedingTimeLimit")?,
    )?;
    let rate = |v: i64| {
        if v <= 0 {
            LimitSetting::Keyword(LimitKeyword::None)
        } else {
            LimitSetting::Value(v as u64)
        }
    };
    patch.download_limit = form.number::<i64>("dlLimit")?.map(rate);
    patch.upload_limit = form.number::<i64>("upLimit")?.map(rate);
    Ok(AddOptions {
        request: AddRequest {
            download_dir,
            paused,
            sequential,
            labels,
            ..AddRequest::default()
        },
        patch,
    })
}

pub(super) async fn add(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let (mut candidates, mut failures) = url_candidates(form.get("urls").unwrap_or(""));
    for file in &form.files {
        candidates.push(Candidate {
            source: AddSource::Metainfo(file.bytes.clone()),
            origin: file.filename.clone().unwrap_or_else(|| file.field.clone()),
        });
    }
    if candidates.is_empty() && failures.is_empty() {
        return Err(QbtError::bad_request("missing parameter: urls or torrents"));
    }
    if candidates.len() > MAX_ADDS_PER_REQUEST {
        return Err(QbtError::bad_request(format!(
            "at most {MAX_ADDS_PER_REQUEST} torrents per request"
        )));
    }
    let opts = options(&state, &form).await?;
    let mut added = 0usize;
    let mut invalid = false;
    for c in candidates {
        let request = opts.request.clone();
        let source = c.source;
        match state
            .handle
            .call(|reply| ControlRequest::AddTorrent {
                source,
                options: request,
                reply,
            })
            .await
        {
            Ok(a) => {
                added += 1;
                if opts.patch != TorrentPatch::default() {
                    let id = a.info_hash.clone();
                    let patch = opts.patch.clone();
                    if let Err(e) = state
                        .handle
                        .call(|reply| ControlRequest::PatchTorrent { id, patch, reply })
                        .await
                    {
                        tracing::warn!(torrent = %a.info_hash, error = %e, "qBittorrent add: limits not set");
                    }
                }
            }
            Err(e) => {
                invalid |= e.code == "invalid_torrent";
                failures.push(format!("{}: {}", c.origin, e.message));
            }
        }
    }
    for f in &failures {
        tracing::info!(reason = %f, "qBittorrent add: not added");
    }
    if added > 0 {
        Ok(text("Ok."))
    } else if invalid {
        Ok(QbtError::new(415, "Fails.").into_response())
    } else {
        Ok(text("Fails."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lines_are_magnets_or_failures() {
        let (ok, failed) = url_candidates(
            "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567\n\
             https://example.org/a.torrent\r\n/etc/passwd\n\n",
        );
        assert_eq!(ok.len(), 1);
        assert!(matches!(&ok[0].source, AddSource::Magnet(m) if m.starts_with("magnet:?xt")));
        assert_eq!(failed.len(), 2);
        assert!(failed[0].contains("upload the file"));
        assert!(failed[1].contains("not a magnet link"));
    }
}
