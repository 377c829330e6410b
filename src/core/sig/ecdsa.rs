//! ECDSA signature checks on P-256 and P-384 (FIPS 186-4 6.4.2; curve
//! parameters from SEC 2). Jacobian coordinates in Montgomery form; both
//! curves have a = -3 and cofactor 1.

use super::bignum::{from_be, is_zero, to_be, Limbs, Modulus};
use super::{der, Digest};

/// Curve parameters, big-endian hex.
pub struct Curve {
    p: &'static str,
    pub(super) n: &'static str,
    b: &'static str,
    gx: &'static str,
    gy: &'static str,
}

pub static P256: Curve = Curve {
    p: "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    n: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    b: "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
    gx: "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
    gy: "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
};

pub static P384: Curve = Curve {
    p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
        ffffffff0000000000000000ffffffff",
    n: "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
        581a0db248b0a77aecec196accc52973",
    b: "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a\
        c656398d8a2ed19d2a85c8edd3ec2aef",
    gx: "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38\
         5502f25dbf55296c3a545e3872760ab7",
    gy: "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c0\
         0a60b1ce1d7e819d7a431d7c90ea0e5f",
};

pub(super) fn hex(s: &str) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    s.as_bytes()
        .chunks(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect()
}

/// A point (X, Y, Z) in Jacobian coordinates; Z = 0 is the point at infinity.
#[derive(Clone)]
struct Point {
    x: Limbs,
    y: Limbs,
    z: Limbs,
}

/// The field with the curve's arithmetic on it.
struct Field {
    fp: Modulus,
    len: usize,
}

impl Field {
    fn sqr(&self, a: &[u32]) -> Limbs {
        self.fp.mul(a, a)
    }

    fn double(&self, p: &Point) -> Point {
        let f = &self.fp;
        if is_zero(&p.z) {
            return p.clone();
        }
        // dbl-2001-b (a = -3).
        let delta = self.sqr(&p.z);
        let gamma = self.sqr(&p.y);
        let beta = f.mul(&p.x, &gamma);
        let t = f.mul(&f.sub(&p.x, &delta), &f.add(&p.x, &delta));
        let alpha = f.add(&f.add(&t, &t), &t);
        let beta4 = f.add(&f.add(&beta, &beta), &f.add(&beta, &beta));
        let beta8 = f.add(&beta4, &beta4);
        let x = f.sub(&self.sqr(&alpha), &beta8);
        let z = f.sub(&f.sub(&self.sqr(&f.add(&p.y, &p.z)), &gamma), &delta);
        let g1 = self.sqr(&gamma);
        let g2 = f.add(&g1, &g1);
        let g4 = f.add(&g2, &g2);
        let g8 = f.add(&g4, &g4);
        let y = f.sub(&f.mul(&alpha, &f.sub(&beta4, &x)), &g8);
        Point { x, y, z }
    }

    fn add(&self, p: &Point, q: &Point) -> Point {
        let f = &self.fp;
        if is_zero(&p.z) {
            return q.clone();
        }
        if is_zero(&q.z) {
            return p.clone();
        }
        // add-2007-bl.
        let z1z1 = self.sqr(&p.z);
        let z2z2 = self.sqr(&q.z);
        let u1 = f.mul(&p.x, &z2z2);
        let u2 = f.mul(&q.x, &z1z1);
        let s1 = f.mul(&f.mul(&p.y, &q.z), &z2z2);
        let s2 = f.mul(&f.mul(&q.y, &p.z), &z1z1);
        let h = f.sub(&u2, &u1);
        let r = f.sub(&s2, &s1);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double(p)
            } else {
                Point {
                    x: f.one(),
                    y: f.one(),
                    z: vec![0; f.limbs()],
                }
            };
        }
        let h2 = f.add(&h, &h);
        let i = self.sqr(&h2);
        let j = f.mul(&h, &i);
        let r = f.add(&r, &r);
        let v = f.mul(&u1, &i);
        let x = f.sub(&f.sub(&self.sqr(&r), &j), &f.add(&v, &v));
        let s1j = f.mul(&s1, &j);
        let y = f.sub(&f.mul(&r, &f.sub(&v, &x)), &f.add(&s1j, &s1j));
        let zs = f.add(&p.z, &q.z);
        let z = f.mul(&f.sub(&f.sub(&self.sqr(&zs), &z1z1), &z2z2), &h);
        Point { x, y, z }
    }

    /// `a * g + b * q` by one pass over both scalars (Shamir's trick).
    fn double_mul(&self, a: &[u8], g: &Point, b: &[u8], q: &Point) -> Point {
        let gq = self.add(g, q);
        let mut acc = Point {
            x: self.fp.one(),
            y: self.fp.one(),
            z: vec![0; self.fp.limbs()],
        };
        for i in 0..8 * self.len {
            let bit = |s: &[u8]| s[i / 8] >> (7 - i % 8) & 1 == 1;
            acc = self.double(&acc);
            acc = match (bit(a), bit(b)) {
                (true, true) => self.add(&acc, &gq),
                (true, false) => self.add(&acc, g),
                (false, true) => self.add(&acc, q),
                (false, false) => acc,
            };
        }
        acc
    }

    /// An affine coordinate pair from SEC 1 uncompressed bytes, checked to
    /// lie on the curve (in Montgomery form).
    fn decode_point(&self, curve: &Curve, bytes: &[u8]) -> Option<Point> {
        let f = &self.fp;
        if bytes.len() != 1 + 2 * self.len || bytes[0] != 4 {
            return None;
        }
        let (xb, yb) = bytes[1..].split_at(self.len);
        let (x, y) = (from_be(xb, f.limbs())?, from_be(yb, f.limbs())?);
        if !f.contains(&x) || !f.contains(&y) {
            return None;
        }
        let (x, y) = (f.to_mont(&x), f.to_mont(&y));
        let b = f.to_mont(&from_be(&hex(curve.b), f.limbs())?);
        // y^2 = x^3 - 3x + b
        let x3 = f.mul(&self.sqr(&x), &x);
        let rhs = f.add(&f.sub(&x3, &f.add(&f.add(&x, &x), &x)), &b);
        (self.sqr(&y) == rhs).then(|| Point { x, y, z: f.one() })
    }
}

/// Checks a DER `ECDSA-Sig-Value` over `message` against an uncompressed
/// public point.
pub fn verify(
    curve: &Curve,
    public_key: &[u8],
    digest: Digest,
    message: &[u8],
    sig: &[u8],
) -> bool {
    check(curve, public_key, digest, message, sig).unwrap_or(false)
}

fn check(
    curve: &Curve,
    public_key: &[u8],
    digest: Digest,
    message: &[u8],
    sig: &[u8],
) -> Option<bool> {
    let field = Field {
        fp: Modulus::new(&hex(curve.p))?,
        len: curve.p.len() / 2,
    };
    let order = Modulus::new(&hex(curve.n))?;
    let limbs = order.limbs();
    let q = field.decode_point(curve, public_key)?;
    let (r, s) = der::integer_pair(sig)?;
    let (r, s) = (from_be(r, limbs)?, from_be(s, limbs)?);
    if is_zero(&r) || is_zero(&s) || !order.contains(&r) || !order.contains(&s) {
        return None;
    }
    // The hash's leftmost bits, as many as the order has (both orders are
    // whole bytes long), reduced once: e < 2^bits < 2n.
    let hash = digest.hash(message);
    let e = order.reduce_once(from_be(&hash[..hash.len().min(field.len)], limbs)?);
    let w = order.invert(&order.to_mont(&s));
    let u1 = order.from_mont(&order.mul(&order.to_mont(&e), &w));
    let u2 = order.from_mont(&order.mul(&order.to_mont(&r), &w));
    let fp = &field.fp;
    let g = Point {
        x: fp.to_mont(&from_be(&hex(curve.gx), limbs)?),
        y: fp.to_mont(&from_be(&hex(curve.gy), limbs)?),
        z: fp.one(),
    };
    let sum = field.double_mul(&to_be(&u1, field.len), &g, &to_be(&u2, field.len), &q);
    if is_zero(&sum.z) {
        return Some(false);
    }
    let zinv = fp.invert(&sum.z);
    let x = fp.from_mont(&fp.mul(&sum.x, &fp.mul(&zinv, &zinv)));
    // x < p < 2n, so one subtraction gives x mod n.
    Some(order.reduce_once(x) == r)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn field(c: &Curve) -> Field {
        Field {
            fp: Modulus::new(&hex(c.p)).unwrap(),
            len: c.p.len() / 2,
        }
    }

    fn generator(c: &Curve, f: &Field) -> Point {
        let g = [&[4u8][..], &hex(c.gx), &hex(c.gy)].concat();
        f.decode_point(c, &g)
            .expect("the generator is on the curve")
    }

    fn affine_x(f: &Field, p: &Point) -> Vec<u8> {
        let zi = f.fp.invert(&p.z);
        to_be(&f.fp.from_mont(&f.fp.mul(&p.x, &f.fp.mul(&zi, &zi))), f.len)
    }

    #[test]
    fn group_laws_hold() {
        for c in [&P256, &P384] {
            let f = field(c);
            let g = generator(c, &f);
            let zero = vec![0u8; f.len];
            // n * G is the point at infinity; (n - 1) * G + G too.
            let n = hex(c.n);
            assert!(is_zero(&f.double_mul(&n, &g, &zero, &g).z));
            // 3G three ways: G + 2G, 2G + G, and 1 * G + 2 * G.
            let mut one = zero.clone();
            one[f.len - 1] = 1;
            let mut two = zero.clone();
            two[f.len - 1] = 2;
            let by_add = affine_x(&f, &f.add(&g, &f.double(&g)));
            assert_eq!(affine_x(&f, &f.add(&f.double(&g), &g)), by_add);
            assert_eq!(affine_x(&f, &f.double_mul(&one, &g, &two, &g)), by_add);
            // G + G goes through doubling.
            assert_eq!(affine_x(&f, &f.add(&g, &g)), affine_x(&f, &f.double(&g)));
        }
        // Known 3G on P-256 (computed with affine formulas in Python).
        let f = field(&P256);
        let g = generator(&P256, &f);
        assert_eq!(
            affine_x(&f, &f.add(&g, &f.double(&g))),
            hex("5ecbe4d1a6330a44c8f7ef951d4bf165e6c6b721efada985fb41661bc6e7fd6c")
        );
    }
}
