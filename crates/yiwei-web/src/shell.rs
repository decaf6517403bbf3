//! The page shell shared by every template: title, language, user, navigation, CSRF token.

use yiwei_domain::access::Role;
use yiwei_store::user::User;

use crate::AppState;
use crate::auth::Ctx;
use crate::i18n::Tr;

#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: &'static str,
    pub label_key: &'static str,
    pub active: bool,
}

#[derive(Clone, Debug)]
pub struct ShellUser {
    pub display_name: String,
    pub role_label: String,
}

#[derive(Clone, Debug)]
pub struct Shell {
    pub tr: Tr,
    pub title: String,
    pub path: String,
    pub csrf: String,
    pub user: Option<ShellUser>,
    pub nav: Vec<NavItem>,
    pub flash: Option<String>,
}

/// The message key of a role's name.
pub fn role_key(role: Role) -> &'static str {
    match role {
        Role::CountyAdmin => "role.county_admin",
        Role::Analyst => "role.analyst",
        Role::CdcStaff => "role.cdc_staff",
        Role::Clinician => "role.clinician",
        Role::VillageDoctor => "role.village_doctor",
        Role::TeamMember => "role.team_member",
        Role::Radiologist => "role.radiologist",
        Role::Resident => "role.resident",
    }
}

/// The navigation a role sees. Pages check access themselves; this only hides links.
pub fn nav_for(user: &User, path: &str) -> Vec<NavItem> {
    let role = user.role;
    let mut items: Vec<(&'static str, &'static str)> = vec![("/", "nav.home")];
    if role == Role::Resident {
        items.push(("/me", "nav.my_record"));
        items.push(("/me/bookings", "booking.mine"));
    } else {
        items.push(("/divisions", "nav.divisions"));
        items.push(("/orgs", "nav.orgs"));
        if role.reads_personal_records() {
            items.push(("/residents", "nav.residents"));
            items.push(("/worklist", "nav.worklist"));
        }
        items.push(("/residents/quality", "nav.quality"));
        items.push(("/dashboard", "nav.dashboard"));
        items.push(("/indicators/programmes", "nav.programme_indicators"));
        items.push(("/warnings", "nav.warnings"));
        items.push(("/cdc/statistics", "nav.case_stats"));
        items.push(("/cdc/timeliness", "nav.timeliness"));
        if role == Role::CdcStaff {
            items.push(("/cdc/review", "nav.case_review"));
            items.push(("/cdc/foodborne", "nav.foodborne"));
        }
        if matches!(
            role,
            Role::TeamMember | Role::VillageDoctor | Role::Clinician
        ) {
            items.push(("/teams", "nav.teams"));
            items.push(("/contracts/coverage", "nav.coverage"));
        }
        if role.reads_personal_records() || role.administers() {
            items.push(("/booking", "nav.booking"));
        }
        if role.reads_personal_records() {
            items.push(("/referrals", "nav.referrals"));
            if role != Role::CdcStaff {
                items.push(("/cases/returned", "nav.returned_cards"));
            }
        }
        // cost alerts (防返贫监测预警)
        items.push(("/cost-alerts", "nav.cost_alerts"));
        // imaging
        if role.reads_personal_records() {
            items.push(("/imaging", "nav.imaging"));
        }
        if role.administers() {
            items.push(("/admin/users", "nav.users"));
            items.push(("/admin/audit", "nav.audit"));
            items.push(("/admin/break-glass", "nav.break_glass"));
        }
    }
    let route = path.split('?').next().unwrap_or("/");
    // The longest link that the route starts with is the current one (so /residents/quality
    // lights "record quality", not "residents").
    let current = items
        .iter()
        .map(|(href, _)| *href)
        .filter(|href| {
            if *href == "/" {
                route == "/"
            } else {
                route.starts_with(href)
            }
        })
        .max_by_key(|href| href.len());
    items
        .into_iter()
        .map(|(href, label_key)| NavItem {
            href,
            label_key,
            active: Some(href) == current,
        })
        .collect()
}

impl Shell {
    pub fn new(ctx: &Ctx, state: &AppState, title_key: &str) -> Shell {
        let tr = ctx.tr;
        Shell {
            tr,
            title: tr.t(title_key).to_owned(),
            path: ctx.path.clone(),
            csrf: ctx.csrf(state),
            user: ctx.user().map(|u| ShellUser {
                display_name: u.display_name.clone(),
                role_label: tr.t(role_key(u.role)).to_owned(),
            }),
            nav: ctx
                .user()
                .map(|u| nav_for(u, &ctx.path))
                .unwrap_or_default(),
            flash: None,
        }
    }

    pub fn with_title(mut self, title: String) -> Shell {
        self.title = title;
        self
    }

    pub fn with_flash(mut self, flash: Option<String>) -> Shell {
        self.flash = flash;
        self
    }
}

/// Links to the previous and next page of a list.
#[derive(Clone, Debug, Default)]
pub struct Pager {
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// Rows per page of every list.
pub const PAGE_SIZE: i64 = 50;

impl Pager {
    /// `base` is the list URL with its filters and without `page`, ending in `?` or `&`.
    pub fn new(base: &str, page: i64, total: i64) -> Pager {
        let last = (total.max(1) + PAGE_SIZE - 1) / PAGE_SIZE;
        Pager {
            prev: (page > 1).then(|| format!("{base}page={}", page - 1)),
            next: (page < last).then(|| format!("{base}page={}", page + 1)),
        }
    }
}

/// The offset of 1-based `page`, clamped to sane values.
pub fn offset(page: Option<i64>) -> (i64, i64) {
    let page = page.unwrap_or(1).clamp(1, 1_000_000);
    (page, (page - 1) * PAGE_SIZE)
}
