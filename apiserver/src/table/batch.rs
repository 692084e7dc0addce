//! batch/v1 Jobs and CronJobs (printers.go `printJob`, `printCronJob`).

use super::{
    age_cell, age_col, arr_at, bool_ptr_string, col, condition_status, duration,
    format_label_selector, get, int_at, is_deleting, layout_containers, name_cell, name_col,
    opt_int_at, parse_time, since, str_at, time_at, wide, Column, Printer, CONTAINERS_DESC,
    IMAGES_DESC, POD_SELECTOR_DESC,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct JobPrinter;

impl Printer for JobPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Status", "string", "Status of the job."),
            col(
                "Completions",
                "string",
                "Pods that reached phase Succeeded.",
            ),
            col("Duration", "string", "Time required to complete the job."),
            age_col(),
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide("Selector", "string", POD_SELECTOR_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let (names, images) = layout_containers(arr_at(obj, "/spec/template/spec/containers"));
        vec![
            name_cell(obj),
            Value::from(job_status(obj)),
            Value::from(job_completions(obj)),
            Value::from(job_duration(obj, now)),
            age_cell(obj, now),
            Value::from(names),
            Value::from(images),
            Value::from(format_label_selector(get(obj, "/spec/selector"))),
        ]
    }
}

/// `succeeded/completions`, or `succeeded/1 of parallelism` for a work queue.
/// Decoding defaults both to 1 when neither is set, and parallelism to 1.
fn job_completions(obj: &Value) -> String {
    let succeeded = int_at(obj, "/status/succeeded");
    let completions = opt_int_at(obj, "/spec/completions");
    let parallelism = opt_int_at(obj, "/spec/parallelism");
    match (completions, parallelism) {
        (Some(c), _) => format!("{}/{}", succeeded, c),
        (None, None) => format!("{}/1", succeeded),
        (None, Some(p)) if p > 1 => format!("{}/1 of {}", succeeded, p),
        (None, Some(_)) => format!("{}/1", succeeded),
    }
}

/// Time from start to completion (or to now while running); "" before start.
fn job_duration(obj: &Value, now: DateTime<Utc>) -> String {
    let Some(start) = time_at(obj, "/status/startTime") else {
        return String::new();
    };
    let end = time_at(obj, "/status/completionTime").unwrap_or(now);
    duration::human_duration(end.signed_duration_since(start))
}

/// The first matching of Complete, Failed, Terminating, Suspended,
/// FailureTarget; otherwise Running.
fn job_status(obj: &Value) -> &'static str {
    let is_true = |t: &str| condition_status(obj, "/status/conditions", t) == Some("True");
    if is_true("Complete") {
        "Complete"
    } else if is_true("Failed") {
        "Failed"
    } else if is_deleting(obj) {
        "Terminating"
    } else if is_true("Suspended") {
        "Suspended"
    } else if is_true("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

pub struct CronJobPrinter;

impl Printer for CronJobPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Schedule", "string", "The schedule in Cron format."),
            col(
                "Timezone",
                "string",
                "The time zone name for the given schedule.",
            ),
            col(
                "Suspend",
                "boolean",
                "Whether subsequent executions are suspended.",
            ),
            col("Active", "integer", "Pointers to currently running jobs."),
            col(
                "Last Schedule",
                "string",
                "When the job was last scheduled.",
            ),
            age_col(),
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide("Selector", "string", POD_SELECTOR_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let template = get(obj, "/spec/jobTemplate/spec").unwrap_or(&Value::Null);
        let (names, images) = layout_containers(arr_at(template, "/template/spec/containers"));
        let time_zone = get(obj, "/spec/timeZone")
            .and_then(Value::as_str)
            .unwrap_or("<none>");
        // Decoding defaults suspend to false.
        let suspend = match bool_ptr_string(obj, "/spec/suspend") {
            "<unset>" => "False",
            s => s,
        };
        let last_schedule = match get(obj, "/status/lastScheduleTime") {
            Some(t) => since(parse_time(Some(t)), now),
            None => "<none>".to_string(),
        };
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/schedule")),
            Value::from(time_zone),
            Value::from(suspend),
            Value::from(arr_at(obj, "/status/active").len() as i64),
            Value::from(last_schedule),
            age_cell(obj, now),
            Value::from(names),
            Value::from(images),
            Value::from(format_label_selector(get(template, "/selector"))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    use crate::table::testutil::names;

    fn pod_template() -> Value {
        json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34"}]}})
    }

    #[test]
    fn job_columns() {
        assert_eq!(
            names(&JobPrinter),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert!(JobPrinter.columns()[5..].iter().all(|c| c.priority == 1));
    }

    #[test]
    fn job() {
        let job = json!({
            "metadata": {"name": "pi", "creationTimestamp": ago(600)},
            "spec": {"completions": 3, "parallelism": 1, "template": pod_template(),
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}}},
            "status": {"succeeded": 3, "startTime": ago(590), "completionTime": ago(500),
                       "conditions": [{"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            JobPrinter.cells(&job, now()),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("3/3"),
                json!("90s"),
                json!("10m"),
                json!("pi"),
                json!("perl:5.34"),
                json!("batch.kubernetes.io/controller-uid=abc")
            ]
        );
        let running =
            json!({"spec": {"parallelism": 4}, "status": {"startTime": ago(30), "succeeded": 1}});
        let row = JobPrinter.cells(&running, now());
        assert_eq!(
            row[1..4],
            [json!("Running"), json!("1/1 of 4"), json!("30s")]
        );
        let suspended =
            json!({"status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!(JobPrinter.cells(&suspended, now())[1], json!("Suspended"));
        let deleting = json!({"metadata": {"deletionTimestamp": ago(1)},
            "status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}});
        assert_eq!(JobPrinter.cells(&deleting, now())[1], json!("Terminating"));
    }

    #[test]
    fn job_empty() {
        assert_eq!(
            JobPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("Running"),
                json!("0/1"),
                json!(""),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn cronjob() {
        assert_eq!(
            names(&CronJobPrinter),
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(CronJobPrinter.columns()[3].type_, "boolean");
        let cj = json!({
            "metadata": {"name": "hello", "creationTimestamp": ago(7200)},
            "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": true,
                     "jobTemplate": {"spec": {"template": pod_template()}}},
            "status": {"active": [{"kind": "Job", "name": "hello-1"}], "lastScheduleTime": ago(120)}
        });
        assert_eq!(
            CronJobPrinter.cells(&cj, now()),
            vec![
                json!("hello"),
                json!("*/5 * * * *"),
                json!("Etc/UTC"),
                json!("True"),
                json!(1),
                json!("2m"),
                json!("120m"),
                json!("pi"),
                json!("perl:5.34"),
                json!("<none>")
            ]
        );
        assert_eq!(
            CronJobPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(""),
                json!("<none>"),
                json!("False"),
                json!(0),
                json!("<none>"),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("<none>")
            ]
        );
    }
}
