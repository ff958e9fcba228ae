//! A `Vec` that costs 8 bytes while empty and unallocated instead of 24: for the per-connection
//! range lists (SACK scoreboard, reassembly ranges) that are empty on almost every connection
//! almost all the time (issue 3's memory budget). Reads of an unallocated list see an empty
//! `Vec`; the first mutable access allocates it; [`LazyVec::release`] frees it.

use core::ops::{Deref, DerefMut};

// The box is the point: one pointer (8 bytes) inline instead of a Vec's three words.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LazyVec<T>(Option<Box<Vec<T>>>);

impl<T> Default for LazyVec<T> {
    fn default() -> Self {
        LazyVec(None)
    }
}

impl<T> LazyVec<T> {
    /// Free the storage (the list reads as empty again).
    pub fn release(&mut self) {
        self.0 = None;
    }
}

impl<T> Deref for LazyVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        match &self.0 {
            Some(v) => v,
            None => const { &Vec::new() },
        }
    }
}

impl<T> DerefMut for LazyVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<'a, T> IntoIterator for &'a LazyVec<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_empty_allocates_on_write_and_releases() {
        assert_eq!(core::mem::size_of::<LazyVec<(u32, u32)>>(), 8);
        let mut v: LazyVec<u32> = LazyVec::default();
        assert!(v.is_empty());
        assert!(v.0.is_none());
        v.push(3);
        assert_eq!(&v[..], &[3]);
        v.release();
        assert!(v.is_empty() && v.0.is_none());
    }
}
