//! Offline browsing exports: a product by id, the category tree, category pages, keywords, similar products.

use super::error::guard;
use super::offload::offload;
use super::records::{Match, Product, SearchOptions};
use super::{Result, ShopLens};
use crate::{browse, category, engine, search};

/// Order of a category listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Enum)]
pub enum SortOrder {
    /// The shop's own order (its catalog feed's).
    #[default]
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By title, ignoring case.
    Title,
}

/// How to list a category; every field has a default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PageOptions {
    /// Products per page, 1..=1000.
    #[uniffi(default = 20)]
    pub page_size: u32,
    /// Order of the listing; None is `Relevance` (UniFFI defaults must be literals, and an enum's variant is not).
    #[uniffi(default = None)]
    pub sort: Option<SortOrder>,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions { page_size: browse::DEFAULT_PAGE_SIZE, sort: None }
    }
}

// The uniffi default above must be a literal; this keeps it equal to the core's.
const _: () = assert!(browse::DEFAULT_PAGE_SIZE == 20, "update PageOptions' uniffi default");

/// One page of a category listing.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ProductPage {
    /// The products on this page (none past the last page).
    pub products: Vec<Product>,
    /// The page number asked for (from 1).
    pub page: u32,
    /// Products per page.
    pub page_size: u32,
    /// Products in the category on all pages.
    pub total: u32,
}

/// One node of the category tree.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CategoryCount {
    /// The full path, like `Home/Kitchen/Mugs`.
    pub path: String,
    /// The last segment, like `Mugs`.
    pub name: String,
    /// 0 for top-level categories.
    pub depth: u32,
    /// Products in this category and below it.
    pub count: u32,
}

#[uniffi::export]
impl ShopLens {
    /// The product with this id (from the newest catalog that has it); `NotFound` otherwise.
    pub fn get_product(&self, id: String) -> Result<Product> {
        guard(|| Ok(self.engine.product(&id)?.0.into()))
    }

    /// The category tree of the open shards, parents before children, with product counts at every level.
    pub fn categories(&self) -> Vec<CategoryCount> {
        self.engine
            .categories()
            .into_iter()
            .map(|c| CategoryCount { path: c.path, name: c.name, depth: c.depth, count: c.count })
            .collect()
    }

    /// Page `page` (from 1) of the products in category `path` and below it (`""`: every product); `NotFound` for a
    /// category no open shard has. A page past the end is empty.
    #[uniffi::method(default(options = None))]
    pub fn products_in_category(&self, path: String, page: u32, options: Option<PageOptions>) -> Result<ProductPage> {
        guard(|| products_in_category(&self.engine, &path, page, options))
    }

    /// Keyword search over titles, brands, categories and attributes, as the shopper types: case and accents do
    /// not matter, the last word may be unfinished, a word of five or more letters may have one typo. `score` is a
    /// text relevance score (not a cosine).
    #[uniffi::method(default(options = None))]
    pub fn search_text(&self, query: String, options: Option<SearchOptions>) -> Result<Vec<Match>> {
        guard(|| search_text(&self.engine, &query, options))
    }

    /// `search_text` on a ShopLens worker thread: the caller never waits.
    #[uniffi::method(default(options = None))]
    pub async fn search_text_async(&self, query: String, options: Option<SearchOptions>) -> Result<Vec<Match>> {
        let engine = self.engine.clone();
        offload(move || search_text(&engine, &query, options)).await
    }

    /// Products that look like product `id` (from its stored photo vector; no model run), the product itself left
    /// out; `NotFound` for an unknown id.
    #[uniffi::method(default(options = None))]
    pub fn similar_products(&self, id: String, options: Option<SearchOptions>) -> Result<Vec<Match>> {
        guard(|| similar_products(&self.engine, &id, options))
    }

    /// `similar_products` on a ShopLens worker thread: the caller never waits.
    #[uniffi::method(default(options = None))]
    pub async fn similar_products_async(&self, id: String, options: Option<SearchOptions>) -> Result<Vec<Match>> {
        let engine = self.engine.clone();
        offload(move || similar_products(&engine, &id, options)).await
    }
}

fn products_in_category(
    engine: &engine::ShopLens,
    path: &str,
    page: u32,
    options: Option<PageOptions>,
) -> Result<ProductPage> {
    let options = options.unwrap_or_default();
    let sort = match options.sort.unwrap_or_default() {
        SortOrder::Relevance => category::SortOrder::Relevance,
        SortOrder::PriceAsc => category::SortOrder::PriceAsc,
        SortOrder::PriceDesc => category::SortOrder::PriceDesc,
        SortOrder::Title => category::SortOrder::Title,
    };
    let request = browse::PageRequest { page, page_size: options.page_size, sort };
    let found = engine.products_in_category(path, &request)?;
    Ok(ProductPage {
        products: found.products.into_iter().map(Into::into).collect(),
        page: found.page,
        page_size: found.page_size,
        total: found.total,
    })
}

fn search_text(engine: &engine::ShopLens, query: &str, options: Option<SearchOptions>) -> Result<Vec<Match>> {
    let options: search::SearchOptions = options.unwrap_or_default().into();
    Ok(engine.search_text(query, &options)?.into_iter().map(Into::into).collect())
}

fn similar_products(engine: &engine::ShopLens, id: &str, options: Option<SearchOptions>) -> Result<Vec<Match>> {
    let options: search::SearchOptions = options.unwrap_or_default().into();
    Ok(engine.similar_products(id, &options)?.into_iter().map(Into::into).collect())
}
