//! A map for a handful of entries (the peers of a call, their file transfers): a list, searched in order.
//!
//! For so few entries it is as fast as a hash map, and much smaller in the wasm: every `HashMap<K, V>` brings its
//! own copy of the hash table's code.

/// Keys and values in insertion order; each key at most once.
#[derive(Clone, Debug, PartialEq)]
pub struct SmallMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap(Vec::new())
    }
}

impl<K: PartialEq, V> SmallMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, key: &K) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, value)| value)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.position(key).is_some()
    }

    /// Sets the value for `key`, returning the one it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Some(index) => Some(std::mem::replace(&mut self.0[index].1, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Takes the value for `key` out.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let index = self.position(key)?;
        Some(self.0.remove(index).1)
    }

    /// The value for `key`, made with `make` if there is none yet.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let index = match self.position(&key) {
            Some(index) => index,
            None => {
                self.0.push((key, make()));
                self.0.len() - 1
            }
        };
        &mut self.0[index].1
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain_mut(|(key, value)| keep(key, value));
    }

    /// The entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(key, value)| (key, value))
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(key, _)| key)
    }

    /// The values, in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, value)| value)
    }

    /// Empties the map, handing over its entries.
    pub fn take(&mut self) -> Vec<(K, V)> {
        std::mem::take(&mut self.0)
    }
}

impl<K: PartialEq, V> FromIterator<(K, V)> for SmallMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = SmallMap::new();
        for (key, value) in entries {
            map.insert(key, value);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_has_one_value_at_most() {
        let mut map = SmallMap::new();
        assert_eq!(map.insert("a", 1), None);
        assert_eq!(map.insert("b", 2), None);
        assert_eq!(map.insert("a", 3), Some(1));
        assert_eq!(map.iter().collect::<Vec<_>>(), [(&"a", &3), (&"b", &2)]);
        assert_eq!(map.get(&"a"), Some(&3));
        assert!(map.contains_key(&"b") && !map.contains_key(&"c"));
        let collected: SmallMap<_, _> = [("x", 1), ("x", 2)].into_iter().collect();
        assert_eq!(collected.values().collect::<Vec<_>>(), [&2]);
    }

    #[test]
    fn entries_come_and_go() {
        let mut map: SmallMap<&str, Vec<u32>> = SmallMap::new();
        map.get_or_insert_with("a", Vec::new).push(1);
        map.get_or_insert_with("a", Vec::new).push(2);
        map.get_or_insert_with("b", Vec::new).push(3);
        assert_eq!(map.get(&"a"), Some(&vec![1, 2]));
        assert_eq!(map.remove(&"a"), Some(vec![1, 2]));
        assert_eq!(map.remove(&"a"), None);
        map.insert("c", vec![]);
        map.retain(|key, _| *key != "b");
        assert_eq!(map.keys().collect::<Vec<_>>(), [&"c"]);
        assert_eq!(map.take(), [("c", vec![])]);
        assert_eq!(map.iter().count(), 0);
    }
}
