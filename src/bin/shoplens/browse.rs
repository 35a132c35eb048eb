//! `shoplens browse`: the offline catalog calls (by id, categories, category pages, keywords, similar products).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use shoplens::{Error, PageRequest, Product, SortOrder};

use crate::shards::{print_matches, product_json, Filters};
use crate::ModelArg;

/// Options of `shoplens browse`.
#[derive(Args)]
pub struct BrowseArgs {
    /// Shard files to browse (repeatable); a product in several is taken from the newest catalog.
    #[arg(long = "shard", required = true)]
    shards: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    model: ModelArg,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// One product by id.
    Get {
        /// The product id.
        id: String,
    },
    /// The category tree with product counts.
    Categories,
    /// A page of the products in a category and below it.
    Category {
        /// Category path, like Home/Kitchen.
        path: String,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Products per page.
        #[arg(long, default_value_t = shoplens::browse::DEFAULT_PAGE_SIZE)]
        page_size: u32,
        /// Order of the listing.
        #[arg(long, value_enum, default_value_t = Sort::Relevance)]
        sort: Sort,
    },
    /// Keyword search: as you type, case- and accent-insensitive, one typo in longer words.
    Search {
        /// What the shopper typed.
        query: String,
        #[command(flatten)]
        filters: Filters,
    },
    /// Products that look like this one.
    Similar {
        /// The product id.
        id: String,
        #[command(flatten)]
        filters: Filters,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Sort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Title,
}

pub fn run(args: BrowseArgs) -> Result<(), Error> {
    let engine = args.model.open()?;
    for s in &args.shards {
        engine.add_shard(s)?;
    }
    let json = args.json;
    match args.what {
        What::Get { id } => {
            let (product, _) = engine.product(&id)?;
            print_products(&[product], json)
        }
        What::Categories => {
            let tree = engine.categories();
            if json {
                let items: Vec<_> = tree
                    .iter()
                    .map(|c| serde_json::json!({"path": c.path, "name": c.name, "depth": c.depth, "count": c.count}))
                    .collect();
                println!("{}", serde_json::to_string(&items)?);
            } else {
                tree.iter().for_each(|c| println!("{}{} ({})", "  ".repeat(c.depth as usize), c.name, c.count));
            }
            Ok(())
        }
        What::Category { path, page, page_size, sort } => {
            let sort = match sort {
                Sort::Relevance => SortOrder::Relevance,
                Sort::PriceAsc => SortOrder::PriceAsc,
                Sort::PriceDesc => SortOrder::PriceDesc,
                Sort::Title => SortOrder::Title,
            };
            let found = engine.products_in_category(&path, &PageRequest { page, page_size, sort })?;
            print_products(&found.products, json)?;
            if !json {
                let pages = found.total.div_ceil(found.page_size);
                eprintln!("page {} of {pages} ({} products)", found.page, found.total);
            }
            Ok(())
        }
        What::Search { query, filters } => print_matches(&engine.search_text(&query, &filters.options())?, json),
        What::Similar { id, filters } => print_matches(&engine.similar_products(&id, &filters.options())?, json),
    }
}

fn print_products(products: &[Product], json: bool) -> Result<(), Error> {
    if json {
        let items: Vec<_> = products.iter().map(product_json).collect();
        println!("{}", serde_json::to_string(&items)?);
    } else {
        for p in products {
            println!("{:<24} {:<44} {:>9.2} {}  [{}]", p.id, p.title, p.price, p.currency, p.category);
        }
    }
    Ok(())
}
