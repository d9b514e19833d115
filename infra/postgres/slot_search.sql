-- The slot-search read model's tables (docs/read-models.md), {s} being the schema
CREATE TABLE IF NOT EXISTS {s}.directory_clinics (
    clinic_id uuid PRIMARY KEY, name text NOT NULL, address jsonb NOT NULL,
    time_zone text NOT NULL, modalities text[] NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.directory_services (
    service_id uuid PRIMARY KEY, name text NOT NULL, duration_minutes int NOT NULL,
    modality text NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.directory_providers (
    provider_id uuid PRIMARY KEY, display_name text NOT NULL, clinic_ids uuid[] NOT NULL,
    service_ids uuid[] NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.availability_schedules (
    schedule_id uuid PRIMARY KEY, provider_id uuid NOT NULL, clinic_id uuid NOT NULL,
    rules jsonb NOT NULL, generated_through date, updated_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS availability_schedules_provider
    ON {s}.availability_schedules (provider_id);
CREATE INDEX IF NOT EXISTS availability_schedules_clinic
    ON {s}.availability_schedules (clinic_id);
CREATE TABLE IF NOT EXISTS {s}.open_slots (
    slot_id uuid PRIMARY KEY, schedule_id uuid NOT NULL, provider_id uuid NOT NULL,
    clinic_id uuid NOT NULL, service_id uuid NOT NULL, modality text NOT NULL,
    start_at timestamptz NOT NULL, end_at timestamptz NOT NULL,
    local_start timestamp NOT NULL, local_end timestamp NOT NULL, time_zone text NOT NULL,
    book_by timestamptz NOT NULL, status text NOT NULL DEFAULT 'open');
CREATE INDEX IF NOT EXISTS open_slots_by_start
    ON {s}.open_slots (start_at, slot_id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS open_slots_by_clinic
    ON {s}.open_slots (clinic_id, start_at, slot_id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS open_slots_by_service
    ON {s}.open_slots (service_id, start_at, slot_id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS open_slots_by_provider
    ON {s}.open_slots (provider_id, start_at, slot_id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS open_slots_by_schedule
    ON {s}.open_slots (schedule_id, start_at);
CREATE INDEX IF NOT EXISTS open_slots_by_provider_time
    ON {s}.open_slots (provider_id, start_at, end_at);
CREATE TABLE IF NOT EXISTS {s}.booked_intervals (
    appointment_id uuid PRIMARY KEY, provider_id uuid NOT NULL,
    start_at timestamptz NOT NULL, end_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS booked_intervals_by_provider
    ON {s}.booked_intervals (provider_id, start_at);
-- The booked span includes the buffers of the schedule it was booked under (decision 0037).
ALTER TABLE {s}.booked_intervals ADD COLUMN IF NOT EXISTS clinic_id uuid;
