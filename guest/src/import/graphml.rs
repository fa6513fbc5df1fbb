//! LightRAG's knowledge graph file (`graph_chunk_entity_relation.graphml`), as
//! NetworkX writes it: `<key id="d0" for="node" attr.name="entity_type" …/>`
//! declarations, then `<node id="name">` and `<edge source=… target=…>` elements
//! whose `<data key="d0">` children carry the attributes.
//!
//! The file is read as a stream of XML events (quick-xml), one node or edge at a
//! time, so its size does not matter. Attribute values come back as text with XML
//! escapes resolved; what they mean (numbers, `<SEP>` lists) is for the caller.
//! Anything that is not well-formed XML, or a `<data>` naming an undeclared key, is
//! an error naming the file.

use super::source::bad_file;
use crate::wit::Error;
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Whether an item is a node or an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Node,
    Edge,
}

/// A node (`id`) or an edge (`source`, `target`) with its attributes by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: Kind,
    /// The node's id (the entity name); empty for an edge.
    pub id: String,
    pub source: String,
    pub target: String,
    attrs: Vec<(String, String)>,
}

impl Item {
    /// The attribute `name` (`entity_type`, `weight`, …), if the item has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A `<key>` declaration.
struct Key {
    /// `node`, `edge` or `all` (anything else is never applied).
    target: String,
    name: String,
    default: Option<String>,
}

impl Key {
    fn applies_to(&self, kind: Kind) -> bool {
        match kind {
            Kind::Node => self.target == "node" || self.target == "all",
            Kind::Edge => self.target == "edge" || self.target == "all",
        }
    }
}

/// The value of attribute `name` of an element, escapes resolved.
fn attribute(element: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        if attr.key.local_name().as_ref() == name {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The character an entity reference stands for: XML's five and numeric ones.
fn reference(r: &BytesRef<'_>) -> Result<char, String> {
    match r.as_ref() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(format!("unknown entity reference '&{other};'")),
        },
    }
}

/// The reader's state between events.
#[derive(Default)]
struct Parser {
    keys: HashMap<String, Key>,
    /// A `<key>` being declared (its id), and whether its `<default>` is open.
    key: Option<(String, Key)>,
    in_default: bool,
    /// The node or edge being read.
    item: Option<Item>,
    /// The `<data>` being read: its key id and text.
    data: Option<(String, String)>,
    seen_root: bool,
}

impl Parser {
    fn open(&mut self, element: &BytesStart<'_>) -> Result<(), String> {
        match element.local_name().as_ref() {
            "graphml" => self.seen_root = true,
            "key" => {
                let id = attribute(element, "id")?;
                let name = attribute(element, "attr.name")?;
                let (Some(id), Some(name)) = (id, name) else {
                    return Err("a <key> without id or attr.name".into());
                };
                let target = attribute(element, "for")?.unwrap_or_else(|| "all".into());
                let key = Key {
                    target,
                    name,
                    default: None,
                };
                self.key = Some((id, key));
            }
            "default" => {
                if let Some((_, key)) = self.key.as_mut() {
                    key.default = Some(String::new());
                    self.in_default = true;
                }
            }
            "node" => {
                let id = attribute(element, "id")?.ok_or("a <node> without an id")?;
                self.item = Some(Item {
                    kind: Kind::Node,
                    id,
                    source: String::new(),
                    target: String::new(),
                    attrs: Vec::new(),
                });
            }
            "edge" => {
                let source = attribute(element, "source")?;
                let target = attribute(element, "target")?;
                let (Some(source), Some(target)) = (source, target) else {
                    return Err("an <edge> without source or target".into());
                };
                self.item = Some(Item {
                    kind: Kind::Edge,
                    id: String::new(),
                    source,
                    target,
                    attrs: Vec::new(),
                });
            }
            "data" if self.item.is_some() => {
                let key = attribute(element, "key")?.ok_or("a <data> without a key")?;
                self.data = Some((key, String::new()));
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some((_, value)) = self.data.as_mut() {
            value.push_str(text);
        } else if self.in_default
            && let Some((_, key)) = self.key.as_mut()
        {
            key.default.get_or_insert_with(String::new).push_str(text);
        }
    }

    /// Closes element `name`; a node or edge that ends here is returned.
    fn close(&mut self, name: &str) -> Result<Option<Item>, String> {
        match name {
            "default" => self.in_default = false,
            "key" => {
                if let Some((id, key)) = self.key.take() {
                    self.keys.insert(id, key);
                }
                self.in_default = false;
            }
            "data" => {
                if let (Some((id, value)), Some(item)) = (self.data.take(), self.item.as_mut()) {
                    let key = self
                        .keys
                        .get(&id)
                        .ok_or_else(|| format!("a <data> names the undeclared key '{id}'"))?;
                    if key.applies_to(item.kind) {
                        item.attrs.retain(|(n, _)| *n != key.name);
                        item.attrs.push((key.name.clone(), value));
                    }
                }
            }
            "node" | "edge" => {
                if let Some(mut item) = self.item.take() {
                    for key in self.keys.values() {
                        if let Some(default) = &key.default
                            && key.applies_to(item.kind)
                            && item.get(&key.name).is_none()
                        {
                            item.attrs.push((key.name.clone(), default.clone()));
                        }
                    }
                    return Ok(Some(item));
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

/// Calls `each` with every node and edge of the GraphML file at `path` (named `file`
/// in errors), in file order.
pub fn read(
    path: &Path,
    file: &str,
    mut each: impl FnMut(Item) -> Result<(), Error>,
) -> Result<(), Error> {
    let input = File::open(path).map_err(|e| bad_file(file, format!("cannot be read: {e}")))?;
    let mut reader = Reader::from_reader(BufReader::new(input));
    let mut parser = Parser::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            bad_file(
                file,
                format!("malformed XML near byte {}: {e}", reader.error_position()),
            )
        })?;
        let at = reader.buffer_position();
        let fail = |what: String| bad_file(file, format!("{what} (near byte {at})"));
        let closed = match event {
            Event::Start(element) => {
                parser.open(&element).map_err(fail)?;
                None
            }
            Event::Empty(element) => {
                parser.open(&element).map_err(fail)?;
                parser.close(element.local_name().as_ref()).map_err(fail)?
            }
            Event::End(element) => parser.close(element.local_name().as_ref()).map_err(fail)?,
            Event::Text(text) => {
                parser.text(&text.xml10_content());
                None
            }
            Event::CData(text) => {
                parser.text(&text.xml10_content());
                None
            }
            Event::GeneralRef(r) => {
                let c = reference(&r).map_err(fail)?;
                parser.text(c.encode_utf8(&mut [0; 4]));
                None
            }
            Event::Eof => break,
            _ => None,
        };
        if let Some(item) = closed {
            each(item)?;
        }
    }
    if !parser.seen_root {
        return Err(bad_file(file, "not a GraphML file (no <graphml> element)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(xml: &str) -> Result<Vec<Item>, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.graphml");
        std::fs::write(&path, xml).unwrap();
        let mut out = Vec::new();
        read(&path, "g.graphml", |item| {
            out.push(item);
            Ok(())
        })?;
        Ok(out)
    }

    const HEAD: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <key id="d7" for="edge" attr.name="weight" attr.type="double" />
  <key id="d1" for="node" attr.name="entity_type" attr.type="string" />
  <key id="d2" for="node" attr.name="description" attr.type="string" />
  <key id="d3" for="node" attr.name="source_id" attr.type="string" />
  <key id="d9" for="edge" attr.name="keywords" attr.type="string">
    <default>none</default>
  </key>
  <graph edgedefault="undirected">
"#;

    #[test]
    fn keys_name_the_attributes_and_escapes_are_resolved() {
        let xml = format!(
            "{HEAD}    <node id=\"Marie &amp; Pierre\">
      <data key=\"d1\">person</data>
      <data key=\"d2\">Met in &lt;Paris&gt;&#10;in 1894 &#x2014; &quot;C&apos;est&quot;<![CDATA[ <raw> ]]></data>
      <data key=\"d3\">doc-1-chunk-000&lt;SEP&gt;doc-1-chunk-001</data>
    </node>
    <node id=\"Radium\"/>
    <edge source=\"Radium\" target=\"Marie &amp; Pierre\">
      <data key=\"d7\">2.0</data>
    </edge>
  </graph>
</graphml>"
        );
        let items = items(&xml).unwrap();
        assert_eq!(items.len(), 3);
        let marie = &items[0];
        assert_eq!(
            (marie.kind, marie.id.as_str()),
            (Kind::Node, "Marie & Pierre")
        );
        assert_eq!(marie.get("entity_type"), Some("person"));
        assert_eq!(
            marie.get("description"),
            Some("Met in <Paris>\nin 1894 \u{2014} \"C'est\" <raw> ")
        );
        let sources: Vec<&str> = marie.get("source_id").unwrap().split("<SEP>").collect();
        assert_eq!(sources, ["doc-1-chunk-000", "doc-1-chunk-001"]);
        assert_eq!(items[1].id, "Radium");
        assert_eq!(items[1].get("description"), None);
        // An edge-only key's default applies to edges, never to nodes.
        assert_eq!(items[1].get("keywords"), None);
        let edge = &items[2];
        assert_eq!(edge.kind, Kind::Edge);
        assert_eq!(
            (edge.source.as_str(), edge.target.as_str()),
            ("Radium", "Marie & Pierre")
        );
        assert_eq!(edge.get("weight"), Some("2.0"));
        assert_eq!(edge.get("keywords"), Some("none"));
    }

    #[test]
    fn malformed_graphml_is_an_error_naming_the_file() {
        for bad in [
            format!("{HEAD}<node id=\"a\"><data key=\"d1\">x</node></graph></graphml>"),
            format!("{HEAD}<node id=\"a\"><data key=\"zz\">x</data></node></graph></graphml>"),
            format!("{HEAD}<node><data key=\"d1\">x</data></node></graph></graphml>"),
            format!(
                "{HEAD}<node id=\"a\"><data key=\"d1\">&bogus;</data></node></graph></graphml>"
            ),
            "<notgraphml/>".to_string(),
            String::new(),
        ] {
            let Err(Error::BadInput(message)) = items(&bad) else {
                panic!("accepted: {bad}")
            };
            assert!(message.starts_with("g.graphml: "), "{message}");
        }
    }
}
