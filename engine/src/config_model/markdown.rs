//! `docs/config.md`, made from the registry.

use super::env_rule::ENV_PREFIX;
use super::keys::SECTIONS;

/// The reference page: every key with its type, default, variable and reload.
pub fn markdown_reference() -> String {
    let mut out = String::new();
    out.push_str(
        "# Configuration reference\n\n\
         <!-- Generated from engine/src/config_model/keys.rs; do not edit by hand. Regenerate with\n     \
         `cargo run -p ccbt-cli --bin btbt -- config describe --format markdown > docs/config.md` -->\n\n\
         The daemon (`btbt daemon start`) reads its settings from these sources, later wins:\n\n\
         1. the defaults below (no file is needed);\n\
         2. the TOML file: `--config FILE`, else the first that exists of `./ccbt.toml`,\n   \
         `$XDG_CONFIG_HOME/ccbt/ccbt.toml`, `~/.ccbt.toml`;\n",
    );
    out.push_str(&format!(
        "3. environment variables: `{ENV_PREFIX}` and the key's dotted path in capitals with `_` for `.`\n   \
         (`limits.download` is `CCBT_LIMITS_DOWNLOAD`); a list is comma-separated;\n"
    ));
    out.push_str(
        "4. command-line flags of `btbt daemon start` (`--listen`, `--shards`, `--download-dir`, `--no-dht`, …);\n\
         5. runtime overrides: `btbt config set KEY VALUE` changes a running daemon and is kept in the\n   \
         state dir (`config-overrides.toml`), never in your file; `btbt config unset KEY` drops one;\n\
         6. per-torrent settings (`btbt torrent set`), which beat the session's for that torrent.\n\n\
         Sizes and rates are bytes (`65536`, `512K`, `10M`, `1.5G`: powers of 1024), durations\n\
         `30s`, `15m`, `2h`, `1h30m`, `7d` or an integer of seconds, times of day `HH:MM`.\n\
         An unknown key, a wrong type or a value out of range stops the daemon at start with the\n\
         file, the line and the key (and the nearest valid key for a typo); `btbt config check FILE`\n\
         says the same without a daemon.\n\n\
         **Reload**: the daemon watches its file. A key marked *live* takes a new value within\n\
         2 seconds of saving; a *restart* key logs `needs a restart: KEY` and keeps its value until\n\
         then. An edit that does not read is refused (logged with file, line and key) and the\n\
         running config stays as it was. `btbt config set` accepts live keys only.\n",
    );
    for section in SECTIONS {
        let Some(first) = section.first() else {
            continue;
        };
        out.push_str(&format!(
            "\n## `[{}]`\n\n| key | type | default | env | reload | meaning |\n|---|---|---|---|---|---|\n",
            first.section()
        ));
        for key in section.iter() {
            out.push_str(&format!(
                "| `{}` | {} | {} | `{}` | {} | {} |\n",
                key.path,
                cell(key.kind.type_name()),
                cell(key.default),
                key.env_var_shown(),
                key.reload.as_str(),
                cell(key.doc)
            ));
        }
    }
    out
}

/// A table cell's text: `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_row() {
        let page = markdown_reference();
        for key in super::super::registry::all_keys() {
            assert!(page.contains(&format!("| `{}` |", key.path)), "{}", key.path);
        }
        assert!(page.contains("| `limits.download` | rate"));
    }

    #[test]
    fn docs_config_md_is_up_to_date() {
        assert!(
            markdown_reference() == include_str!("../../../docs/config.md"),
            "docs/config.md is out of date with engine/src/config_model/keys.rs; regenerate it with\n  \
             cargo run -p ccbt-cli --bin btbt -- config describe --format markdown > docs/config.md"
        );
    }
}
