//! Categories and tags: `torrents/categories`, `createCategory`, `editCategory`,
//! `removeCategories`, `tags`, `createTags`, `deleteTags`.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{text, QbtError};
use super::form::{split_list, QbtForm};
use super::QbtState;
use crate::control::{Category, CategoryBook, CategoryEdit, ControlRequest};

/// `{name: {name, savePath}}`, as qBittorrent lists categories.
pub(super) fn categories_json(categories: &std::collections::BTreeMap<String, Category>) -> Value {
    let map: Map<String, Value> = categories
        .iter()
        .map(|(name, c)| (name.clone(), json!({ "name": c.name, "savePath": c.save_path })))
        .collect();
    Value::Object(map)
}

async fn edit(state: &QbtState, edit: CategoryEdit) -> Result<CategoryBook, QbtError> {
    Ok(state
        .handle
        .call(|reply| ControlRequest::EditCategories { edit, reply })
        .await?)
}

pub(super) async fn categories(State(state): State<QbtState>) -> Result<Json<Value>, QbtError> {
    let book = state.handle.call(ControlRequest::Categories).await?;
    Ok(Json(categories_json(&book.categories)))
}

fn category_from(form: &QbtForm) -> Result<Category, QbtError> {
    let name = form.required("category")?.trim().to_string();
    if name.is_empty() {
        return Err(QbtError::bad_request("Category name cannot be empty"));
    }
    Ok(Category {
        name,
        save_path: form.get("savePath").unwrap_or("").trim().to_string(),
    })
}

pub(super) async fn create_category(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    edit(&state, CategoryEdit::Create(category_from(&form)?)).await?;
    Ok(text(""))
}

pub(super) async fn edit_category(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    edit(&state, CategoryEdit::Edit(category_from(&form)?)).await?;
    Ok(text(""))
}

pub(super) async fn remove_categories(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let names: Vec<String> = split_list(form.required("categories")?, '\n').collect();
    edit(&state, CategoryEdit::Remove(names)).await?;
    Ok(text(""))
}

pub(super) async fn tags(State(state): State<QbtState>) -> Result<Json<Value>, QbtError> {
    let book = state.handle.call(ControlRequest::Categories).await?;
    Ok(Json(json!(book.tag_list())))
}

pub(super) async fn create_tags(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let tags: Vec<String> = split_list(form.required("tags")?, ',').collect();
    edit(&state, CategoryEdit::CreateTags(tags)).await?;
    Ok(text(""))
}

pub(super) async fn delete_tags(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let tags: Vec<String> = split_list(form.required("tags")?, ',').collect();
    edit(&state, CategoryEdit::DeleteTags(tags)).await?;
    Ok(text(""))
}
