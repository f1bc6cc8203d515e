-- A state.db written by release 0.1.0 (lazy schema_migrations 0001-0004, times as ISO text), dumped with sqlite3 iterdump.
BEGIN TRANSACTION;
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at VARCHAR(40) NOT NULL, 
	actor VARCHAR(200) NOT NULL, 
	action VARCHAR(100) NOT NULL, 
	subject VARCHAR(500), 
	details TEXT NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "audit_log" VALUES(1,'2026-12-02T19:11:57+00:00','auditor','run.completed','run 1','{"as_of":"2026-10-01T06:00:00+00:00","by_status":{"new":2},"config_hash":"h1","exit_code":0,"findings":2}','0000000000000000000000000000000000000000000000000000000000000000','6293696041ea7ae7ca7cf7c4bad95d0af3e2b89f6fa744845b7fccdfb31d58f5');
INSERT INTO "audit_log" VALUES(2,'2026-12-02T19:11:57+00:00','auditor','run.completed','run 2','{"as_of":"2026-10-02T06:00:30+00:00","by_status":{"open":1,"resolved":1},"config_hash":"h1","exit_code":3,"findings":2}','6293696041ea7ae7ca7cf7c4bad95d0af3e2b89f6fa744845b7fccdfb31d58f5','e00a12298bcb7940e4e766471025fcd5d8e133d2ace6b15c0b81643fa70580ad');
INSERT INTO "audit_log" VALUES(3,'2026-12-02T19:11:57+00:00','alice','exception.added','k2','{"reason":"ticket 7"}','e00a12298bcb7940e4e766471025fcd5d8e133d2ace6b15c0b81643fa70580ad','9575a41e222bd0fbab9da3dcf3e01ae2175d99ffc7a76cfdf23a93fa1d956848');
INSERT INTO "audit_log" VALUES(4,'2026-12-02T19:11:57+00:00','alice','remediate.apply.completed','remediation run 1','{"done":1}','9575a41e222bd0fbab9da3dcf3e01ae2175d99ffc7a76cfdf23a93fa1d956848','1b4871a52648af80c4f9355102ec5ccee6c69a8541fbaec3600a4c6cbc503426');
CREATE TABLE campaign_decisions (
	id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	item_id VARCHAR(40) NOT NULL, 
	decision VARCHAR(10) NOT NULL, 
	reassign_to VARCHAR(320), 
	justification TEXT NOT NULL, 
	reviewer VARCHAR(320) NOT NULL, 
	decided_at VARCHAR(40) NOT NULL, 
	source VARCHAR(1100) NOT NULL, 
	file_sha256 VARCHAR(64), 
	PRIMARY KEY (id)
);
INSERT INTO "campaign_decisions" VALUES(1,1,'i1','revoke',NULL,'left','bob@example.com','2026-10-03T09:15:00+00:00','packet.csv','cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd');
CREATE TABLE campaign_imports (
	id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	file_sha256 VARCHAR(64) NOT NULL, 
	file_name VARCHAR(1000) NOT NULL, 
	imported_at VARCHAR(40) NOT NULL, 
	imported_by VARCHAR(200) NOT NULL, 
	decisions INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_campaign_import_file UNIQUE (campaign_id, file_sha256)
);
INSERT INTO "campaign_imports" VALUES(1,1,'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd','packet.csv','2026-10-03T09:15:00+00:00','alice',1);
CREATE TABLE campaign_items (
	campaign_id INTEGER NOT NULL, 
	item_id VARCHAR(40) NOT NULL, 
	position INTEGER NOT NULL, 
	reviewer VARCHAR(320) NOT NULL, 
	flagged BOOLEAN NOT NULL, 
	body TEXT NOT NULL, 
	PRIMARY KEY (campaign_id, item_id)
);
INSERT INTO "campaign_items" VALUES(1,'i1',0,'bob@example.com',1,'{"item": 1}');
CREATE TABLE campaign_messages (
	id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	reviewer VARCHAR(320) NOT NULL, 
	recipient VARCHAR(320) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	step_days INTEGER NOT NULL, 
	sent_at VARCHAR(40) NOT NULL, 
	channel VARCHAR(20) NOT NULL, 
	reference VARCHAR(1000), 
	PRIMARY KEY (id)
);
INSERT INTO "campaign_messages" VALUES(1,1,'bob@example.com','bob@example.com','reminder',7,'2026-10-09T17:00:00+00:00','outbox','outbox/1.eml');
CREATE TABLE campaign_people (
	campaign_id INTEGER NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	display_name VARCHAR(300), 
	manager_email VARCHAR(320), 
	status VARCHAR(20), 
	PRIMARY KEY (campaign_id, email)
);
INSERT INTO "campaign_people" VALUES(1,'bob@example.com','Bob','carol@example.com','active');
CREATE TABLE campaigns (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	created_at VARCHAR(40) NOT NULL, 
	created_by VARCHAR(200) NOT NULL, 
	due_at VARCHAR(40) NOT NULL, 
	reviewer_mode VARCHAR(300) NOT NULL, 
	scopes TEXT NOT NULL, 
	privileged_only BOOLEAN NOT NULL, 
	run_dir VARCHAR(1000), 
	snapshot_as_of VARCHAR(40), 
	hmac_key VARCHAR(64) NOT NULL, 
	origin TEXT NOT NULL, 
	closed_at VARCHAR(40), 
	undecided_policy VARCHAR(40), 
	PRIMARY KEY (id)
);
INSERT INTO "campaigns" VALUES(1,'Q4','quarterly','open','2026-10-02T06:00:30+00:00','alice','2026-10-16T17:00:00+00:00','manager','["all"]',0,'/runs/two','2026-10-02T06:00:30+00:00','abababababababababababababababababababababababababababababababab','[]',NULL,NULL);
CREATE TABLE findings (
	finding_id VARCHAR(64) NOT NULL, 
	rule_id VARCHAR(100) NOT NULL, 
	severity VARCHAR(10) NOT NULL, 
	category VARCHAR(40) NOT NULL, 
	status VARCHAR(12) NOT NULL, 
	account_id VARCHAR(12), 
	first_seen VARCHAR(40) NOT NULL, 
	last_seen VARCHAR(40) NOT NULL, 
	resolved_at VARCHAR(40), 
	last_run INTEGER NOT NULL, 
	body TEXT NOT NULL, 
	PRIMARY KEY (finding_id)
);
INSERT INTO "findings" VALUES('k1','iam-access-key-old','medium','credential_hygiene','resolved','111111111111','2026-10-01T06:00:00+00:00','2026-10-01T06:00:00+00:00','2026-10-02T06:00:30+00:00',2,'{"finding_id":"k1","rule_id":"iam-access-key-old","category":"credential_hygiene","severity":"medium","principal":{"type":"access_key","id":"k1","name":"svc","arn":null},"account_id":"111111111111","resource":"k1","title":"key k1","evidence":{},"controls":["CIS-AWS-1.14"],"status":"resolved","recommendation":null,"first_seen":"2026-10-01T06:00:00Z","resolved_at":"2026-10-02T06:00:30Z"}');
INSERT INTO "findings" VALUES('k2','iam-access-key-old','medium','credential_hygiene','open','111111111111','2026-10-01T06:00:00+00:00','2026-10-02T06:00:30+00:00',NULL,2,'{"finding_id":"k2","rule_id":"iam-access-key-old","category":"credential_hygiene","severity":"medium","principal":{"type":"access_key","id":"k2","name":"svc","arn":null},"account_id":"111111111111","resource":"k2","title":"key k2","evidence":{},"controls":["CIS-AWS-1.14"],"status":"open","recommendation":null,"first_seen":"2026-10-01T06:00:00Z","resolved_at":null}');
CREATE TABLE job_locks (
	name VARCHAR(100) NOT NULL, 
	owner VARCHAR(300) NOT NULL, 
	acquired_at VARCHAR(40), 
	expires_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO "job_locks" VALUES('run','','2026-10-05T06:00:00.123456+00:00','2026-10-05T06:10:00.123456+00:00');
CREATE TABLE job_runs (
	id INTEGER NOT NULL, 
	job_id VARCHAR(100) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	scheduled_at VARCHAR(40) NOT NULL, 
	started_at VARCHAR(40) NOT NULL, 
	finished_at VARCHAR(40), 
	status VARCHAR(20) NOT NULL, 
	owner VARCHAR(300) NOT NULL, 
	detail TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_job_runs_occurrence UNIQUE (job_id, scheduled_at)
);
INSERT INTO "job_runs" VALUES(1,'nightly','run','2026-10-05T06:00:00.000000+00:00','2026-10-05T06:00:00.250000+00:00','2026-10-05T06:01:00.500000+00:00','ok','scheduler','{}');
CREATE TABLE remediation_actions (
	run_id INTEGER NOT NULL, 
	action_id VARCHAR(64) NOT NULL, 
	seq INTEGER NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	description VARCHAR(1000) NOT NULL, 
	target TEXT NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	attempts INTEGER NOT NULL, 
	pre_state TEXT, 
	after_state TEXT, 
	result TEXT, 
	error TEXT, 
	started_at VARCHAR(40), 
	finished_at VARCHAR(40), 
	rollback_status VARCHAR(20), 
	rollback_attempts INTEGER NOT NULL, 
	rollback_state TEXT, 
	rollback_error TEXT, 
	rolled_back_at VARCHAR(40), 
	PRIMARY KEY (run_id, action_id)
);
INSERT INTO "remediation_actions" VALUES(1,'a1',0,'idc_user_disable','disable bob','{"user": "bob"}','done',1,'{"status": "ENABLED"}','{"status": "DISABLED"}','{}',NULL,'2026-10-04T09:00:01+00:00','2026-10-04T09:00:04+00:00',NULL,0,NULL,NULL,NULL);
CREATE TABLE remediation_notices (
	id INTEGER NOT NULL, 
	finding_id VARCHAR(64) NOT NULL, 
	rule_id VARCHAR(100) NOT NULL, 
	principal_type VARCHAR(40) NOT NULL, 
	principal_id VARCHAR(200) NOT NULL, 
	principal_name VARCHAR(200), 
	account_id VARCHAR(12), 
	action VARCHAR(200) NOT NULL, 
	recipients TEXT NOT NULL, 
	message_path VARCHAR(1000) NOT NULL, 
	notified_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "remediation_notices" VALUES(1,'k2','iam-access-key-old','access_key','k2',NULL,'111111111111','deactivate','["bob@example.com"]','outbox/n1.eml','2026-10-05T06:00:00+00:00');
CREATE TABLE remediation_runs (
	id INTEGER NOT NULL, 
	plan_sha256 VARCHAR(64) NOT NULL, 
	plan_created_at VARCHAR(40) NOT NULL, 
	started_at VARCHAR(40) NOT NULL, 
	finished_at VARCHAR(40), 
	status VARCHAR(20) NOT NULL, 
	actor VARCHAR(200) NOT NULL, 
	override_reason TEXT, 
	"plan" TEXT NOT NULL, 
	rolled_back_at VARCHAR(40), 
	PRIMARY KEY (id), 
	UNIQUE (plan_sha256)
);
INSERT INTO "remediation_runs" VALUES(1,'efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef','2026-10-04T08:00:00+00:00','2026-10-04T09:00:00+00:00','2026-10-04T09:00:05+00:00','completed','alice',NULL,'{"actions": []}',NULL);
CREATE TABLE run_findings (
	run_id INTEGER NOT NULL, 
	finding_id VARCHAR(64) NOT NULL, 
	status VARCHAR(12) NOT NULL, 
	severity VARCHAR(10) NOT NULL, 
	category VARCHAR(40) NOT NULL, 
	PRIMARY KEY (run_id, finding_id)
);
INSERT INTO "run_findings" VALUES(1,'k1','new','medium','credential_hygiene');
INSERT INTO "run_findings" VALUES(1,'k2','new','medium','credential_hygiene');
INSERT INTO "run_findings" VALUES(2,'k1','resolved','medium','credential_hygiene');
INSERT INTO "run_findings" VALUES(2,'k2','open','medium','credential_hygiene');
CREATE TABLE runs (
	id INTEGER NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	started_at VARCHAR(40) NOT NULL, 
	finished_at VARCHAR(40), 
	as_of VARCHAR(40) NOT NULL, 
	config_hash VARCHAR(64), 
	tool_version VARCHAR(40), 
	exit_code INTEGER, 
	duration_seconds FLOAT, 
	counts TEXT, 
	sources TEXT, 
	out_dir VARCHAR(1000), 
	hr_roles TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO "runs" VALUES(1,'run','2026-10-01T06:00:00+00:00','2026-12-02T19:11:57+00:00','2026-10-01T06:00:00+00:00','h1','0.1.0',0,1.5,'{"findings": 2}','[]','/runs/one','{"e1": ["eng", "dev"]}');
INSERT INTO "runs" VALUES(2,'run','2026-10-02T06:00:30+00:00','2026-12-02T19:11:57+00:00','2026-10-02T06:00:30+00:00','h1','0.1.0',3,2.25,'{"findings": 1}','[]','/runs/two',NULL);
CREATE TABLE schema_migrations (
	name VARCHAR(100) NOT NULL, 
	applied_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO "schema_migrations" VALUES('0001_runs_findings_audit','2026-12-02T19:11:57+00:00');
INSERT INTO "schema_migrations" VALUES('0002_campaigns','2026-12-02T19:11:57+00:00');
INSERT INTO "schema_migrations" VALUES('0003_remediation','2026-12-02T19:11:57+00:00');
INSERT INTO "schema_migrations" VALUES('0004_scheduler','2026-12-02T19:11:57+00:00');
CREATE INDEX ix_campaign_items_reviewer ON campaign_items (campaign_id, reviewer);
CREATE INDEX ix_campaign_decisions_item ON campaign_decisions (campaign_id, item_id);
CREATE INDEX ix_remediation_notices_finding_id ON remediation_notices (finding_id);
COMMIT;
