-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "queue_prefix" TEXT NOT NULL DEFAULT 'reelay';
