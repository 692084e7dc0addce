//! rbac.authorization.k8s.io RoleBindings and ClusterRoleBindings (printers.go
//! `printRoleBinding`, `printClusterRoleBinding`). Roles and ClusterRoles have
//! no printer upstream and use the default NAME / CREATED AT table.

use super::{age_cell, age_col, arr_at, col, name_cell, name_col, str_at, wide, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// RoleBindings and ClusterRoleBindings share the layout; only the wide
/// column descriptions name the kind.
pub struct BindingPrinter {
    users_desc: &'static str,
    groups_desc: &'static str,
    sas_desc: &'static str,
}

pub static ROLE_BINDING: BindingPrinter = BindingPrinter {
    users_desc: "Users in the roleBinding",
    groups_desc: "Groups in the roleBinding",
    sas_desc: "ServiceAccounts in the roleBinding",
};

pub static CLUSTER_ROLE_BINDING: BindingPrinter = BindingPrinter {
    users_desc: "Users in the clusterRoleBinding",
    groups_desc: "Groups in the clusterRoleBinding",
    sas_desc: "ServiceAccounts in the clusterRoleBinding",
};

impl Printer for BindingPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Role", "string", "The role the binding refers to."),
            age_col(),
            wide("Users", "string", self.users_desc),
            wide("Groups", "string", self.groups_desc),
            wide("ServiceAccounts", "string", self.sas_desc),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let role = format!(
            "{}/{}",
            str_at(obj, "/roleRef/kind"),
            str_at(obj, "/roleRef/name")
        );
        // rbac.SubjectsStrings; subjects of other kinds are not shown.
        let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
        for s in arr_at(obj, "/subjects") {
            let name = str_at(s, "/name");
            match str_at(s, "/kind") {
                "User" => users.push(name.to_string()),
                "Group" => groups.push(name.to_string()),
                "ServiceAccount" => sas.push(format!("{}/{}", str_at(s, "/namespace"), name)),
                _ => {}
            }
        }
        vec![
            name_cell(obj),
            Value::from(role),
            age_cell(obj, now),
            Value::from(users.join(", ")),
            Value::from(groups.join(", ")),
            Value::from(sas.join(", ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn columns() {
        for p in [&ROLE_BINDING, &CLUSTER_ROLE_BINDING] {
            let c: Vec<_> = p.columns().iter().map(|c| (c.name, c.priority)).collect();
            assert_eq!(
                c,
                [
                    ("Name", 0),
                    ("Role", 0),
                    ("Age", 0),
                    ("Users", 1),
                    ("Groups", 1),
                    ("ServiceAccounts", 1)
                ]
            );
        }
        assert_eq!(
            CLUSTER_ROLE_BINDING.columns()[4].description,
            "Groups in the clusterRoleBinding"
        );
    }

    #[test]
    fn cells() {
        let crb = json!({
            "metadata": {"name": "system:kube-dns", "creationTimestamp": ago(86400 * 10)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:kube-dns"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"},
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "system:masters"},
                {"kind": "Robot", "name": "r2"}
            ]
        });
        assert_eq!(
            CLUSTER_ROLE_BINDING.cells(&crb, now()),
            vec![
                json!("system:kube-dns"),
                json!("ClusterRole/system:kube-dns"),
                json!("10d"),
                json!("alice, bob"),
                json!("system:masters"),
                json!("kube-system/kube-dns")
            ]
        );
        assert_eq!(
            ROLE_BINDING.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("/"),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("")
            ]
        );
    }
}
