//! Institutions (医疗卫生机构) and the kinds a county has.
//!
//! The kinds follow how a county's health system is organised (county hospitals, the CDC,
//! township health centres, village clinics), not the finer 卫生机构类别代码 of WS 218, which
//! a later mapping can add. Each institution sits in one division and belongs to at most one
//! medical community (医共体); the store holds both.

/// 机构类别: what an institution is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstitutionKind {
    /// 县人民医院
    CountyHospital,
    /// 县中医医院
    TcmHospital,
    /// 县妇幼保健院
    MaternalChildHospital,
    /// 县疾病预防控制中心
    Cdc,
    /// 县卫生健康局 (the bureau itself, home of analysts and administrators)
    HealthBureau,
    /// 乡镇卫生院
    TownshipHealthCentre,
    /// 社区卫生服务中心
    CommunityHealthCentre,
    /// 村卫生室
    VillageClinic,
    /// 民营诊所
    PrivateClinic,
}

impl InstitutionKind {
    pub const ALL: [InstitutionKind; 9] = [
        InstitutionKind::CountyHospital,
        InstitutionKind::TcmHospital,
        InstitutionKind::MaternalChildHospital,
        InstitutionKind::Cdc,
        InstitutionKind::HealthBureau,
        InstitutionKind::TownshipHealthCentre,
        InstitutionKind::CommunityHealthCentre,
        InstitutionKind::VillageClinic,
        InstitutionKind::PrivateClinic,
    ];

    /// The stable code stored in the database and used in URLs and FHIR.
    pub fn as_str(self) -> &'static str {
        match self {
            InstitutionKind::CountyHospital => "county_hospital",
            InstitutionKind::TcmHospital => "tcm_hospital",
            InstitutionKind::MaternalChildHospital => "maternal_child_hospital",
            InstitutionKind::Cdc => "cdc",
            InstitutionKind::HealthBureau => "health_bureau",
            InstitutionKind::TownshipHealthCentre => "township_health_centre",
            InstitutionKind::CommunityHealthCentre => "community_health_centre",
            InstitutionKind::VillageClinic => "village_clinic",
            InstitutionKind::PrivateClinic => "private_clinic",
        }
    }

    pub fn parse(s: &str) -> Option<InstitutionKind> {
        InstitutionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            InstitutionKind::CountyHospital => "县人民医院",
            InstitutionKind::TcmHospital => "县中医医院",
            InstitutionKind::MaternalChildHospital => "妇幼保健院",
            InstitutionKind::Cdc => "疾病预防控制中心",
            InstitutionKind::HealthBureau => "卫生健康局",
            InstitutionKind::TownshipHealthCentre => "乡镇卫生院",
            InstitutionKind::CommunityHealthCentre => "社区卫生服务中心",
            InstitutionKind::VillageClinic => "村卫生室",
            InstitutionKind::PrivateClinic => "民营诊所",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            InstitutionKind::CountyHospital => "County people's hospital",
            InstitutionKind::TcmHospital => "TCM hospital",
            InstitutionKind::MaternalChildHospital => "Maternal and child health hospital",
            InstitutionKind::Cdc => "Centre for disease control",
            InstitutionKind::HealthBureau => "Health bureau",
            InstitutionKind::TownshipHealthCentre => "Township health centre",
            InstitutionKind::CommunityHealthCentre => "Community health service centre",
            InstitutionKind::VillageClinic => "Village clinic",
            InstitutionKind::PrivateClinic => "Private clinic",
        }
    }

    /// Whether institutions of this kind provide care (and so can join a medical community
    /// as a member). The bureau and the CDC are not care providers.
    pub fn provides_care(self) -> bool {
        !matches!(self, InstitutionKind::HealthBureau | InstitutionKind::Cdc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in InstitutionKind::ALL {
            assert_eq!(InstitutionKind::parse(kind.as_str()), Some(kind));
            assert!(seen.insert(kind.as_str()));
        }
        assert_eq!(InstitutionKind::parse("hospital"), None);
    }
}
