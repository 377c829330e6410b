//! Modular arithmetic on public numbers: RSA moduli up to 8192 bits and the
//! P-256/P-384 primes and group orders. Montgomery multiplication on 32-bit
//! limbs (most routers are 32-bit). Variable time: signature checks handle
//! only public data, and a few checks per XMPP connection need no speed.

use std::cmp::Ordering;

/// Little-endian 32-bit limbs.
pub type Limbs = Vec<u32>;

/// Big-endian bytes as `n` limbs; `None` when the value needs more.
pub fn from_be(bytes: &[u8], n: usize) -> Option<Limbs> {
    let bytes = strip_zeros(bytes);
    if bytes.len() > n * 4 {
        return None;
    }
    let mut out = vec![0u32; n];
    for (i, b) in bytes.iter().rev().enumerate() {
        out[i / 4] |= (*b as u32) << (8 * (i % 4));
    }
    Some(out)
}

/// The lowest `len` bytes of `a`, big-endian.
pub fn to_be(a: &[u32], len: usize) -> Vec<u8> {
    (0..len)
        .rev()
        .map(|i| a.get(i / 4).map_or(0, |l| (l >> (8 * (i % 4))) as u8))
        .collect()
}

pub fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

pub fn is_zero(a: &[u32]) -> bool {
    a.iter().all(|&l| l == 0)
}

/// Compares numbers of equal limb count.
pub fn cmp(a: &[u32], b: &[u32]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// `a -= b`, returning the borrow.
fn sub_assign(a: &mut [u32], b: &[u32]) -> bool {
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let d = (*x as u64).wrapping_sub(*y as u64 + borrow);
        *x = d as u32;
        borrow = (d >> 63) & 1;
    }
    borrow != 0
}

/// `a += b`, returning the carry.
fn add_assign(a: &mut [u32], b: &[u32]) -> bool {
    let mut carry = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let s = *x as u64 + *y as u64 + carry;
        *x = s as u32;
        carry = s >> 32;
    }
    carry != 0
}

/// An odd modulus with what Montgomery multiplication needs.
pub struct Modulus {
    m: Limbs,
    /// -m^-1 mod 2^32.
    m0inv: u32,
    /// R^2 mod m, R = 2^(32 * limbs).
    rr: Limbs,
}

impl Modulus {
    /// `None` for an even modulus or one below 3.
    pub fn new(m_be: &[u8]) -> Option<Modulus> {
        let digits = strip_zeros(m_be);
        let n = digits.len().div_ceil(4);
        let m = from_be(digits, n)?;
        if n == 0 || m[0] & 1 == 0 || (n == 1 && m[0] < 3) {
            return None;
        }
        // Newton's iteration doubles the correct low bits each step: 1 -> 32.
        let mut inv = 1u32;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(m[0].wrapping_mul(inv)));
        }
        // R^2 mod m by doubling 1, 64 * n times.
        let mut rr = vec![0u32; n];
        rr[0] = 1;
        for _ in 0..64 * n {
            let carry = rr[n - 1] >> 31 != 0;
            for i in (1..n).rev() {
                rr[i] = (rr[i] << 1) | (rr[i - 1] >> 31);
            }
            rr[0] <<= 1;
            if carry || cmp(&rr, &m) != Ordering::Less {
                sub_assign(&mut rr, &m);
            }
        }
        Some(Modulus {
            m,
            m0inv: inv.wrapping_neg(),
            rr,
        })
    }

    pub fn limbs(&self) -> usize {
        self.m.len()
    }

    pub fn bits(&self) -> usize {
        let top = self.m[self.m.len() - 1];
        32 * self.m.len() - top.leading_zeros() as usize
    }

    /// Whether `a` (of this modulus's limb count) is below the modulus.
    pub fn contains(&self, a: &[u32]) -> bool {
        cmp(a, &self.m) == Ordering::Less
    }

    /// `a mod m` for `a < 2m`.
    pub fn reduce_once(&self, mut a: Limbs) -> Limbs {
        if !self.contains(&a) {
            sub_assign(&mut a, &self.m);
        }
        a
    }

    /// Montgomery product `a * b / R mod m` (CIOS), for `a, b < m`.
    pub fn mul(&self, a: &[u32], b: &[u32]) -> Limbs {
        let n = self.m.len();
        let mut t = vec![0u32; n + 2];
        for &ai in a {
            let mut carry = 0u64;
            for j in 0..n {
                let s = t[j] as u64 + ai as u64 * b[j] as u64 + carry;
                t[j] = s as u32;
                carry = s >> 32;
            }
            let s = t[n] as u64 + carry;
            t[n] = s as u32;
            t[n + 1] = (s >> 32) as u32;
            // Add u * m so the lowest limb becomes zero, and drop it.
            let u = t[0].wrapping_mul(self.m0inv);
            let mut carry = (t[0] as u64 + u as u64 * self.m[0] as u64) >> 32;
            for j in 1..n {
                let s = t[j] as u64 + u as u64 * self.m[j] as u64 + carry;
                t[j - 1] = s as u32;
                carry = s >> 32;
            }
            let s = t[n] as u64 + carry;
            t[n - 1] = s as u32;
            t[n] = t[n + 1] + (s >> 32) as u32;
            t[n + 1] = 0;
        }
        // t < 2m here.
        if t[n] != 0 || !self.contains(&t[..n]) {
            sub_assign(&mut t[..n], &self.m);
        }
        t.truncate(n);
        t
    }

    pub fn to_mont(&self, a: &[u32]) -> Limbs {
        self.mul(a, &self.rr)
    }

    pub fn from_mont(&self, a: &[u32]) -> Limbs {
        let mut one = vec![0u32; self.m.len()];
        one[0] = 1;
        self.mul(a, &one)
    }

    /// 1 in Montgomery form.
    pub fn one(&self) -> Limbs {
        let mut one = vec![0u32; self.m.len()];
        one[0] = 1;
        self.to_mont(&one)
    }

    pub fn add(&self, a: &[u32], b: &[u32]) -> Limbs {
        let mut s = a.to_vec();
        if add_assign(&mut s, b) || !self.contains(&s) {
            sub_assign(&mut s, &self.m);
        }
        s
    }

    pub fn sub(&self, a: &[u32], b: &[u32]) -> Limbs {
        let mut d = a.to_vec();
        if sub_assign(&mut d, b) {
            add_assign(&mut d, &self.m);
        }
        d
    }

    /// `base^exp` with `base` in Montgomery form (result too); `exp` big-endian.
    pub fn pow(&self, base: &[u32], exp: &[u8]) -> Limbs {
        let mut acc = self.one();
        for byte in strip_zeros(exp) {
            for bit in (0..8).rev() {
                acc = self.mul(&acc, &acc);
                if byte >> bit & 1 == 1 {
                    acc = self.mul(&acc, base);
                }
            }
        }
        acc
    }

    /// `a^-1` for a prime modulus (Fermat: a^(m-2)), Montgomery form in and out.
    pub fn invert(&self, a: &[u32]) -> Limbs {
        let mut e = self.m.clone();
        sub_assign(&mut e, &[2]);
        self.pow(a, &to_be(&e, 4 * e.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: u64) -> Modulus {
        Modulus::new(&v.to_be_bytes()).unwrap()
    }

    fn val(x: &[u32]) -> u64 {
        x.iter().rev().fold(0u64, |acc, &l| (acc << 32) | l as u64)
    }

    #[test]
    fn byte_conversions_round_trip() {
        let a = from_be(&[0, 0, 1, 2, 3, 4, 5], 2).unwrap();
        assert_eq!(a, vec![0x02030405, 0x01]);
        assert_eq!(to_be(&a, 6), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(from_be(&[1, 0, 0, 0, 0], 1), None);
        assert_eq!(strip_zeros(&[0, 0]), &[] as &[u8]);
    }

    #[test]
    fn rejects_even_and_tiny_moduli() {
        assert!(Modulus::new(&[0x10]).is_none());
        assert!(Modulus::new(&[0, 1]).is_none());
        assert!(Modulus::new(&[]).is_none());
        assert!(Modulus::new(&[3]).is_some());
    }

    #[test]
    fn montgomery_arithmetic_matches_u128() {
        // A two-limb prime and a one-limb one, against plain integer math.
        for p in [0xffff_ffff_ffff_ffc5u64, 4_294_967_291] {
            let md = m(p);
            let n = md.limbs();
            for (a, b) in [(3u64, 5u64), (p - 1, p - 2), (123_456_789, 987_654_321 % p)] {
                let (la, lb) = (
                    from_be(&a.to_be_bytes(), n).unwrap(),
                    from_be(&b.to_be_bytes(), n).unwrap(),
                );
                let (ma, mb) = (md.to_mont(&la), md.to_mont(&lb));
                let prod = md.from_mont(&md.mul(&ma, &mb));
                assert_eq!(val(&prod) as u128, a as u128 * b as u128 % p as u128);
                assert_eq!(
                    val(&md.add(&la, &lb)) as u128,
                    (a as u128 + b as u128) % p as u128
                );
                assert_eq!(
                    val(&md.sub(&la, &lb)),
                    ((a as i128 - b as i128).rem_euclid(p as i128)) as u64
                );
                let inv = md.from_mont(&md.invert(&ma));
                assert_eq!(val(&inv) as u128 * a as u128 % p as u128, 1);
            }
            let three = md.to_mont(&from_be(&[3], n).unwrap());
            assert_eq!(val(&md.from_mont(&md.pow(&three, &[0, 5]))), 243);
        }
    }
}
