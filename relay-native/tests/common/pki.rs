//! A test certificate authority (rcgen) and leaf certificates it signs, as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};

/// A CA whose certificate is at `ca_pem`.
pub struct Pki {
    pub ca_pem: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf's files and its DER (to compare with what a server presents).
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

/// Validity of a leaf.
#[derive(Clone, Copy)]
pub enum Validity {
    /// rcgen's default: valid now and for a long time.
    Now,
    /// Expired in 2021.
    Expired,
}

impl Pki {
    /// A new CA named `name`, its certificate written to `dir/name-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("edgeturn test CA {name}"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_pem = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_pem, issuer.as_ref().pem()).unwrap();
        Pki { ca_pem, issuer }
    }

    /// A server certificate for `names` (DNS names or IP addresses), with a new key,
    /// written to `dir/file.pem` and `dir/file.key`.
    pub fn leaf(&self, dir: &Path, file: &str, names: &[&str], validity: Validity) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Validity::Expired = validity {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let leaf = Leaf {
            cert: dir.join(format!("{file}.pem")),
            key: dir.join(format!("{file}.key")),
            der: cert.der().to_vec(),
        };
        std::fs::write(&leaf.cert, cert.pem()).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }
}
