//! [`Slot`]: an optional value for `static` storage that costs no flash.
//!
//! A `static Mutex<Option<T>>` that starts as `None` looks free, but `Option` keeps its `None` in a
//! niche of `T` (a spare value of an enum field), so the initial value is not all zeros and the
//! linker puts the whole static in `.data`: a codec state of 32 KiB then takes 32 KiB of flash for
//! its initial image. `Slot` has an explicit tag (`repr(u8)`, no niche), so its empty value is a
//! zero tag and nothing else: the static goes to `.bss`, which costs RAM only.

/// Empty, or holding a `T`.
#[repr(u8)]
#[derive(Debug)]
pub enum Slot<T> {
    /// Nothing yet (tag 0, so an empty static is zero-initialised).
    Empty = 0,
    /// The value.
    Full(T) = 1,
}

impl<T> Slot<T> {
    /// Puts `value` in the slot, dropping what was there.
    pub fn set(&mut self, value: T) {
        *self = Slot::Full(value);
    }

    /// The value, if there is one.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self {
            Slot::Full(value) => Some(value),
            Slot::Empty => None,
        }
    }

    /// Whether the slot holds a value.
    pub fn is_full(&self) -> bool {
        matches!(self, Slot::Full(_))
    }

    /// Empties the slot.
    pub fn clear(&mut self) {
        *self = Slot::Empty;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear() {
        let mut slot: Slot<[u8; 3]> = Slot::Empty;
        assert!(!slot.is_full());
        assert_eq!(slot.get_mut(), None);
        slot.set([1, 2, 3]);
        assert_eq!(slot.get_mut(), Some(&mut [1, 2, 3]));
        slot.clear();
        assert!(!slot.is_full());
    }
}
